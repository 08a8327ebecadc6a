/**
 * Writes batches to Redis (ioredis): a stream (`XADD key MAXLEN ~ n * rid <rid> data <json>`), a list
 * (`RPUSH`) or pub/sub (`PUBLISH`). One pipeline per batch; every reply is checked. The client has no
 * offline queue and does not resend in-flight commands, so a down Redis fails a write fast instead of
 * queueing it in memory: the runner spools it.
 */
import { Redis, type RedisOptions } from 'ioredis';
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
  private constructor(
    private readonly name: string,
    private readonly spec: RedisTargetSpec,
    private readonly client: Redis,
  ) {}

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
    const writer = new RedisWriter(name, spec, client);
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
    const p = this.client.pipeline();
    const { mode, key, maxLen } = this.spec;
    if (mode === 'stream') {
      for (const r of batch) {
        const k = r.dest ?? key;
        if (maxLen !== undefined) p.xadd(k, 'MAXLEN', '~', maxLen, '*', 'rid', r.rid, 'data', r.data);
        else p.xadd(k, '*', 'rid', r.rid, 'data', r.data);
      }
    } else if (mode === 'list') {
      // One RPUSH per run of records with the same key keeps their order and the command count low.
      let i = 0;
      while (i < batch.length) {
        const k = batch[i]?.dest ?? key;
        const values: string[] = [];
        while (i < batch.length && (batch[i]?.dest ?? key) === k) values.push((batch[i++] as OutRecord).data);
        p.rpush(k, ...values);
      }
    } else {
      for (const r of batch) p.publish(r.dest ?? key, r.data);
    }
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
