/**
 * Writes batches to Redis (ioredis): a stream (`XADD key MAXLEN ~ n * rid <rid> data <json>`), a list
 * (`RPUSH`) or pub/sub (`PUBLISH`). One pipeline per batch; every reply is checked. The client has no
 * offline queue and does not resend in-flight commands, so a down Redis fails a write fast instead of
 * queueing it in memory: the runner spools it.
 *
 * A stream batch is one script call per run of records with the same key (`gseXaddBatch`: the XADDs done in
 * Redis, in order), not one XADD each: ioredis builds a command object, an argument array and a promise
 * per command, 6-7 µs of the controller's CPU per record, against ~1 µs per record as script arguments
 * (Redis spends ~0.5 µs more per record running them). A Redis that refuses scripts (an ACL without EVAL,
 * scripting disabled) gets plain XADDs from then on.
 */
import { type ChainableCommander, Redis, type RedisOptions, type Result } from 'ioredis';
import type { RedisTargetSpec } from '../spec/types.js';
import { TargetConfigError, TargetWriteError } from './errors.js';
import type { SecretResolver } from './secrets.js';
import { errorMessage, type Logger, type OutRecord, type TargetWriter, type WriterHealth } from './types.js';

/** First reconnect delay after the connection drops. */
export const REDIS_RECONNECT_BASE_MS = 50;
/** Reconnect delays double up to this cap. */
export const REDIS_RECONNECT_MAX_MS = 2_000;
/** Connecting (TCP + AUTH + ready check) gives up after this long. */
export const REDIS_CONNECT_TIMEOUT_MS = 3_000;
/** A command (a whole pipeline) without a reply for this long fails. */
export const REDIS_COMMAND_TIMEOUT_MS = 10_000;
/** `create()` waits this long for the first connection; past it, the writer starts disconnected. */
export const REDIS_INITIAL_CONNECT_WAIT_MS = 2_000;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** XADDs each (rid, data) pair to the stream, in order, trimmed when `maxLen` is not ''; how many. */
    gseXaddBatch(key: string, maxLen: string, ...ridData: string[]): Result<number, Context>;
  }
}

// KEYS[1] the stream; ARGV[1] MAXLEN ('' for none); then rid, data, rid, data, ...
const XADD_BATCH = `
local n = 0
if ARGV[1] == '' then
  for i = 2, #ARGV, 2 do
    redis.call('XADD', KEYS[1], '*', 'rid', ARGV[i], 'data', ARGV[i + 1])
    n = n + 1
  end
else
  for i = 2, #ARGV, 2 do
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'rid', ARGV[i], 'data', ARGV[i + 1])
    n = n + 1
  end
end
return n
`;

/** A refusal that says this Redis will not run scripts (so plain commands must do). */
function scriptsRefused(err: unknown): boolean {
  return /NOPERM|unknown command|scripting is disabled|NOSCRIPT.*disabled/i.test(errorMessage(err));
}

/** Consecutive records with the same key, as [key, first index, end index). */
function runsByKey(batch: readonly OutRecord[], key: string): Array<[string, number, number]> {
  const runs: Array<[string, number, number]> = [];
  let i = 0;
  while (i < batch.length) {
    const k = batch[i]?.dest ?? key;
    const first = i;
    while (i < batch.length && (batch[i]?.dest ?? key) === k) i++;
    runs.push([k, first, i]);
  }
  return runs;
}

export interface RedisWriterDeps {
  resolveSecret: SecretResolver;
  logger: Logger;
}

/** The ioredis options for a spec: no offline queue, no resend, bounded retries, Sentinel when declared. */
export function redisClientOptions(spec: RedisTargetSpec, password: string | undefined): RedisOptions {
  const common: RedisOptions = {
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    retryStrategy: (times) =>
      Math.min(REDIS_RECONNECT_BASE_MS * 2 ** Math.min(times, 16), REDIS_RECONNECT_MAX_MS),
    ...(password !== undefined ? { password } : {}),
  };
  if (!spec.sentinel) return common;
  return {
    ...common,
    name: spec.sentinel.name,
    sentinels: spec.sentinel.nodes.map(parseHostPort),
    // Sentinels commonly share the data nodes' password; a deployment that differs needs its own field.
    ...(password !== undefined ? { sentinelPassword: password } : {}),
  };
}

function parseHostPort(node: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(node);
  return { host: m?.[1] ?? node, port: m?.[2] ? Number(m[2]) : 26379 };
}

export class RedisWriter implements TargetWriter {
  /** False once this Redis refused the batch script: plain XADDs from then on. */
  private scripted = true;

  private constructor(
    private readonly name: string,
    private readonly spec: RedisTargetSpec,
    private readonly client: Redis,
    private readonly logger: Logger,
  ) {
    client.defineCommand('gseXaddBatch', { numberOfKeys: 1, lua: XADD_BATCH });
  }

  /** Opens the client and waits up to REDIS_INITIAL_CONNECT_WAIT_MS for it; a down Redis is not an error here. */
  static async create(name: string, spec: RedisTargetSpec, deps: RedisWriterDeps): Promise<RedisWriter> {
    if (!spec.key) throw new TargetConfigError(name, 'redis.key is required');
    const password = spec.passwordFrom ? await deps.resolveSecret(spec.passwordFrom) : undefined;
    const options = redisClientOptions(spec, password);
    let client: Redis;
    try {
      client = spec.sentinel ? new Redis(options) : new Redis(spec.url, options);
    } catch (err) {
      throw new TargetConfigError(name, `invalid redis url: ${errorMessage(err)}`, { cause: err });
    }
    const writer = new RedisWriter(name, spec, client, deps.logger);
    let lastLogged = '';
    client.on('error', (err: Error) => {
      // ioredis emits one error per failed reconnect; log each distinct message once.
      if (err.message !== lastLogged)
        deps.logger.warn('redis target error', { target: name, error: err.message });
      lastLogged = err.message;
    });
    client.on('ready', () => {
      lastLogged = '';
    });
    await writer.waitReady(REDIS_INITIAL_CONNECT_WAIT_MS);
    return writer;
  }

  private waitReady(ms: number): Promise<void> {
    if (this.client.status === 'ready') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.client.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref?.();
      this.client.on('ready', done);
    });
  }

  /** Sends the batch in one pipeline; throws TargetWriteError if any reply is an error. */
  async write(batch: readonly OutRecord[]): Promise<void> {
    if (batch.length === 0) return;
    const { mode, key, maxLen } = this.spec;
    if (mode === 'stream' && this.scripted) {
      try {
        await this.writeStreamScripted(batch);
        return;
      } catch (err) {
        if (!(err instanceof TargetWriteError) || !scriptsRefused(err.cause)) throw err;
        // Refused before any XADD ran: nothing of this batch is in the stream, so plain XADDs may send it.
        this.scripted = false;
        this.logger.warn('redis target refuses scripts: one XADD per record from now on', {
          target: this.name,
          error: errorMessage(err.cause),
        });
      }
    }
    const p = this.client.pipeline();
    if (mode === 'stream') {
      for (const r of batch) {
        const k = r.dest ?? key;
        if (maxLen !== undefined) p.xadd(k, 'MAXLEN', '~', maxLen, '*', 'rid', r.rid, 'data', r.data);
        else p.xadd(k, '*', 'rid', r.rid, 'data', r.data);
      }
    } else if (mode === 'list') {
      // One RPUSH per run of records with the same key keeps their order and the command count low.
      for (const [k, first, end] of runsByKey(batch, key)) {
        const values: string[] = [];
        for (let i = first; i < end; i++) values.push((batch[i] as OutRecord).data);
        p.rpush(k, ...values);
      }
    } else {
      for (const r of batch) p.publish(r.dest ?? key, r.data);
    }
    await this.exec(p);
  }

  /** One `gseXaddBatch` per run of records with the same stream; each must report its run's length added. */
  private async writeStreamScripted(batch: readonly OutRecord[]): Promise<void> {
    const p = this.client.pipeline();
    const runs = runsByKey(batch, this.spec.key);
    const maxLen = this.spec.maxLen === undefined ? '' : String(this.spec.maxLen);
    for (const [k, first, end] of runs) {
      const args: string[] = new Array((end - first) * 2);
      for (let i = first, j = 0; i < end; i++, j += 2) {
        const r = batch[i] as OutRecord;
        args[j] = r.rid;
        args[j + 1] = r.data;
      }
      p.gseXaddBatch(k, maxLen, ...args);
    }
    const replies = await this.exec(p);
    replies.forEach(([, added], n) => {
      const [k, first, end] = runs[n] as [string, number, number];
      if (added !== end - first)
        throw new TargetWriteError(
          this.name,
          `stream ${k}: ${String(added)} of ${end - first} records added`,
        );
    });
  }

  /** Runs a pipeline; its replies, or a TargetWriteError naming how many commands failed and the first error. */
  private async exec(p: ChainableCommander): Promise<[Error | null, unknown][]> {
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await p.exec();
    } catch (err) {
      throw new TargetWriteError(this.name, `pipeline failed: ${errorMessage(err)}`, { cause: err });
    }
    if (!replies) throw new TargetWriteError(this.name, 'pipeline aborted (connection closed)');
    let failed = 0;
    let first: Error | undefined;
    for (const [err] of replies) {
      if (err) {
        failed++;
        first ??= err;
      }
    }
    if (first) {
      throw new TargetWriteError(
        this.name,
        `${failed} of ${replies.length} commands failed: ${first.message}`,
        {
          cause: first,
        },
      );
    }
    return replies;
  }

  /**
   * Connected when the client is `ready` and its socket still writable (the server's FIN ends the socket
   * a moment before ioredis leaves `ready`, and writes in that moment fail); `detail` is the ioredis status.
   */
  health(): WriterHealth {
    const writable = this.client.stream?.writable === true;
    const connected = this.client.status === 'ready' && writable;
    return {
      connected,
      detail: connected || this.client.status !== 'ready' ? this.client.status : 'closing',
    };
  }

  /** QUIT when connected, else drop the connection; never throws. */
  async close(): Promise<void> {
    if (this.client.status === 'ready') {
      try {
        await this.client.quit();
        return;
      } catch {
        // fall through to disconnect
      }
    }
    this.client.disconnect();
  }
}
