/**
 * The data channel end to end with real parts: a real redis-server, the controller as a child process
 * (`gsectl serve`, so it can be SIGKILLed) on a real git repo, two real agent processes, and records pushed
 * with `gse-agent push` child processes into the agents' ingest sockets. Needs `npm run build` (dist/).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataRecord } from '../../src/protocol/messages.js';
import { AGENT_MAIN, GSECTL_MAIN } from '../helpers/agent-process.js';
import { httpCall, waitFor } from '../helpers/controller.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { freePort, type RedisHandle, startRedis } from '../helpers/redis-server.js';
import { type TestCa, testCa } from '../helpers/tls.js';

const BOOTSTRAP = 'e2e-data-bootstrap-token-0123456789';
const ADMIN = 'e2e-data-admin-token-0123456789abcdef';
const STREAM = 'test:events';
const STREAM_V2 = 'test:events:v2';
/** Records per agent in the outage runs, pushed in CHUNKS pushes. */
const RUN_RECORDS = 5_000;
const CHUNKS = 10;
/** Bound for "every record arrived" waits; a bound, not an assertion on speed. */
const ARRIVAL_TIMEOUT_MS = 90_000;
const OUTAGE_TEST_TIMEOUT_MS = 180_000;

const dataYaml = (redisUrl: string, opts: { threshold: number; target: string }) => `
apiVersion: gse/v1
kind: StreamTarget
metadata: { name: redis-test }
spec:
  redis: { url: "${redisUrl}", mode: stream, key: "${STREAM}", maxLen: 1000000 }
---
apiVersion: gse/v1
kind: StreamTarget
metadata: { name: redis-v2 }
spec:
  redis: { url: "${redisUrl}", mode: stream, key: "${STREAM_V2}", maxLen: 1000000 }
---
apiVersion: gse/v1
kind: Route
metadata: { name: metrics }
spec:
  channel: metrics
  filters:
    allOf: [{ field: value, op: gt, value: ${opts.threshold} }]
  targets: [{ name: ${opts.target} }]
  batch: { maxRecords: 500, maxDelay: 50ms }
`;

/** A child process whose stderr tail is kept for failure messages. */
class Proc {
  readonly exited: Promise<number | null>;
  private tail = '';
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.stderr?.on('data', (b: Buffer) => {
      this.tail = (this.tail + b.toString()).slice(-4_000);
    });
    child.stdout?.resume();
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }
  get stderr(): string {
    return this.tail;
  }
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    await this.exited;
  }
}

interface StreamEntry {
  rid: string;
  rec: DataRecord;
}

/** Every entry of a stream, read in pages with a fresh client (Redis may have been restarted). */
async function readStream(url: string, key: string): Promise<StreamEntry[]> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  client.on('error', () => {});
  try {
    await client.connect();
    const out: StreamEntry[] = [];
    let start = '-';
    for (;;) {
      const page = await client.xrange(key, start, '+', 'COUNT', 10_000);
      for (const [, fields] of page) {
        const f = new Map<string, string>();
        for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i] as string, fields[i + 1] as string);
        out.push({ rid: f.get('rid') ?? '', rec: JSON.parse(f.get('data') ?? '{}') as DataRecord });
      }
      if (page.length < 10_000) return out;
      start = `(${(page.at(-1) as [string, string[]])[0]}`;
    }
  } finally {
    client.disconnect();
  }
}

/** Entries of one run, with how many distinct rids and duplicates they hold. */
function runEntries(entries: StreamEntry[], run: string) {
  const mine = entries.filter((e) => e.rec.fields?.run === run);
  const rids = new Set(mine.map((e) => e.rid));
  return { entries: mine, distinct: rids.size, duplicates: mine.length - rids.size };
}

describe('data channel to a real Redis', () => {
  let work: string;
  let redis: RedisHandle;
  let repo: GitRepo;
  let port: number;
  let tls: TestCa;
  let controller: Proc;
  const agents: { name: string; stateDir: string; proc: Proc }[] = [];
  const procs: Proc[] = [];

  const api = async <T>(path: string, method = 'GET'): Promise<T> => {
    const res = await httpCall(`https://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}` },
      ca: tls.caPem,
    });
    if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status}`);
    return JSON.parse(res.text) as T;
  };

  const startController = async (): Promise<void> => {
    controller = new Proc(
      'controller',
      spawn(
        process.execPath,
        [
          GSECTL_MAIN,
          'serve',
          '--repo',
          repo.dir,
          '--path',
          'fleet',
          '--listen',
          `127.0.0.1:${port}`,
          '--state-dir',
          join(work, 'controller'),
          '--bootstrap-token',
          BOOTSTRAP,
          '--admin-token',
          ADMIN,
          '--tls-cert',
          tls.certFile,
          '--tls-key',
          tls.keyFile,
          '--fetch-interval-ms',
          '60000',
          '--log-level',
          'warn',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GSE_REDIS_URL: undefined } },
      ),
    );
    procs.push(controller);
    await waitFor(
      'controller serving its first revision',
      async () => {
        if (!controller.running) throw new Error(`controller exited: ${controller.stderr}`);
        const s = await api<{ revision: { applied: { sha: string } | null } }>('/api/v1/status');
        return s.revision.applied !== null;
      },
      20_000,
    );
  };

  const startAgent = (name: string): void => {
    const dir = join(work, name);
    const proc = new Proc(
      name,
      spawn(
        process.execPath,
        [
          AGENT_MAIN,
          '--controller',
          `wss://127.0.0.1:${port}/agent`,
          '--ca',
          tls.caFile,
          '--token',
          BOOTSTRAP,
          '--name',
          name,
          '--state-dir',
          join(dir, 'state'),
          '--root',
          join(dir, 'root'),
          '--log-level',
          'warn',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    procs.push(proc);
    agents.push({ name, stateDir: join(dir, 'state'), proc });
  };

  /** `gse-agent push --state-dir D --channel C` with `records` as JSON lines on stdin. */
  const push = async (
    stateDir: string,
    records: object[],
    channel = 'metrics',
  ): Promise<{ code: number | null; stderr: string }> => {
    const proc = new Proc(
      'push',
      spawn(process.execPath, [AGENT_MAIN, 'push', '--state-dir', stateDir, '--channel', channel], {
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
    procs.push(proc);
    proc.child.stdin?.end(`${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const code = await proc.exited;
    return { code, stderr: proc.stderr };
  };

  const pushOk = async (stateDir: string, records: object[]): Promise<void> => {
    const r = await push(stateDir, records);
    expect(r.stderr).toContain(`pushed ${records.length} records`);
    expect(r.code).toBe(0);
  };

  /**
   * Starts pushing RUN_RECORDS records per agent in CHUNKS back-to-back pushes, in the background; the test
   * acts on the system meanwhile. `chunksDone()` is the fewest chunks any agent has pushed so far.
   */
  const startRun = (run: string) => {
    const per = RUN_RECORDS / CHUNKS;
    const done = new Map(agents.map((a) => [a.name, 0]));
    const finished = Promise.all(
      agents.map(async (a) => {
        for (let k = 0; k < CHUNKS; k++) {
          await pushOk(
            a.stateDir,
            Array.from({ length: per }, (_, i) => ({ run, agent: a.name, seq: k * per + i, value: 50 })),
          );
          done.set(a.name, k + 1);
        }
      }),
    );
    finished.catch(() => {});
    return { finished, chunksDone: () => Math.min(...done.values()) };
  };

  const streamLength = async (): Promise<number> => {
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    try {
      return await client.xlen(STREAM);
    } finally {
      client.disconnect();
    }
  };

  /** Waits until a third of a run (both agents) is in the stream, counted from `base` entries. */
  const waitForAThird = (base: number) =>
    waitFor(
      'a third of the run delivered',
      async () => (await streamLength()) - base >= (2 * RUN_RECORDS) / 3,
      60_000,
    );

  const waitForChunks = (run: ReturnType<typeof startRun>, n: number) =>
    waitFor(`${n} chunks pushed by every agent`, () => run.chunksDone() >= n, 60_000);

  const waitForRun = async (run: string, expected: number) =>
    waitFor(
      `${expected} distinct records of run ${run} in Redis`,
      async () => {
        const r = runEntries(await readStream(redis.url, STREAM), run);
        return r.distinct >= expected ? r : undefined;
      },
      ARRIVAL_TIMEOUT_MS,
    );

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'gse-e2e-data-'));
    redis = await startRedis();
    repo = await gitRepo({ 'fleet/data.yaml': dataYaml(redis.url, { threshold: 10, target: 'redis-test' }) });
    port = await freePort();
    tls = await testCa();
    await startController();
    startAgent('e2e-a1');
    startAgent('e2e-a2');
    await waitFor('both agents connected', async () => {
      const { items } = await api<{ items: { hostId: string; connected: boolean }[] }>('/api/v1/hosts');
      return items.filter((h) => h.connected).length >= 2;
    });
  }, 60_000);

  afterAll(async () => {
    for (const p of procs) await p.kill('SIGTERM');
    await redis?.cleanup();
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('delivers pushed records with their channel, host, fields and rid when they pass the filter', async () => {
    await Promise.all(
      agents.map((a) =>
        pushOk(
          a.stateDir,
          Array.from({ length: 100 }, (_, i) => ({ run: 'a', agent: a.name, seq: i, value: i % 20 })),
        ),
      ),
    );
    // 9 of every 20 values pass `value > 10`: 45 per agent.
    const got = await waitForRun('a', 90);
    expect(got.entries).toHaveLength(90);
    for (const e of got.entries) {
      const f = e.rec.fields as { agent: string; seq: number; value: number };
      expect(e.rec).toMatchObject({ rid: e.rid, channel: 'metrics', host: { id: f.agent, name: f.agent } });
      expect(e.rid.startsWith(`${f.agent}-`)).toBe(true);
      expect(f.value).toBeGreaterThan(10);
      expect(f.value).toBe(f.seq % 20);
    }
    const routes = await api<{ items: { name: string; in: number; filtered: number }[] }>('/api/v1/routes');
    const metrics = routes.items.find((r) => r.name === 'metrics');
    expect(metrics?.filtered).toBeGreaterThanOrEqual(110);
  });

  it('refuses bad lines with their numbers and exits 1 when some records are bad', async () => {
    const a = agents[0] as (typeof agents)[number];
    const proc = new Proc(
      'push',
      spawn(process.execPath, [AGENT_MAIN, 'push', '--state-dir', a.stateDir], {
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
    procs.push(proc);
    proc.child.stdin?.end('{"channel":"metrics","run":"bad","value":20}\n{oops\n{"value":20}\n');
    expect(await proc.exited).toBe(1);
    expect(proc.stderr).toContain('line 2: not valid JSON');
    expect(proc.stderr).toContain('line 3: "channel" must be a non-empty string');
    expect(proc.stderr).toContain('pushed 1 records');
  });

  it(
    'loses nothing when Redis stops in the middle of a run and comes back',
    async () => {
      const base = await streamLength();
      const run = startRun('b');
      await waitForAThird(base);
      const atStop = { delivered: (await streamLength()) - base, chunksPushed: run.chunksDone() };
      await redis.stop();
      // Pushing goes on; records routed during the outage wait in the controller's target spool.
      await waitFor(
        'records spooled for the down target',
        async () => {
          const { items } = await api<{ items: { name: string; spoolDepth: number }[] }>('/api/v1/targets');
          return (items.find((t) => t.name === 'redis-test')?.spoolDepth ?? 0) > 0;
        },
        30_000,
      );
      await waitForChunks(run, Math.min(CHUNKS, run.chunksDone() + 2));
      const { items } = await api<{ items: { name: string; spooled: number }[] }>('/api/v1/targets');
      const spooledDuringOutage = items.find((t) => t.name === 'redis-test')?.spooled ?? 0;
      await redis.restart();
      await run.finished;
      const got = await waitForRun('b', 2 * RUN_RECORDS);
      console.info(
        `redis outage: stopped at ${JSON.stringify(atStop)}, ${spooledDuringOutage} records spooled by the controller; ` +
          `${got.distinct} distinct of ${2 * RUN_RECORDS} pushed, ${got.entries.length} entries, ${got.duplicates} duplicates`,
      );
      expect(got.distinct).toBe(2 * RUN_RECORDS);
      // At-least-once: a write cut by the outage may land and be sent again, at most a batch or so each time.
      expect(got.duplicates).toBeLessThanOrEqual(2_000);
    },
    OUTAGE_TEST_TIMEOUT_MS,
  );

  it(
    'loses nothing when the controller is killed in the middle of a run and restarted',
    async () => {
      const base = await streamLength();
      const run = startRun('c');
      await waitForAThird(base);
      const atKill = { delivered: (await streamLength()) - base, chunksPushed: run.chunksDone() };
      await controller.kill('SIGKILL');
      // The agents keep accepting pushes into their spools while the controller is gone.
      await waitForChunks(run, Math.min(CHUNKS, run.chunksDone() + 2));
      await startController();
      await run.finished;
      const got = await waitForRun('c', 2 * RUN_RECORDS);
      console.info(
        `controller kill: killed at ${JSON.stringify(atKill)}; ` +
          `${got.distinct} distinct of ${2 * RUN_RECORDS} pushed, ${got.entries.length} entries, ${got.duplicates} duplicates`,
      );
      expect(got.distinct).toBe(2 * RUN_RECORDS);
      expect(got.duplicates).toBeLessThanOrEqual(2 * RUN_RECORDS);
    },
    OUTAGE_TEST_TIMEOUT_MS,
  );

  it('re-routes records pushed after a route change is applied, without a restart', async () => {
    await repo.commit(
      { 'fleet/data.yaml': dataYaml(redis.url, { threshold: 100, target: 'redis-v2' }) },
      'metrics: threshold 100, to redis-v2',
    );
    await api('/api/v1/hooks/git', 'POST');
    // The new target is opened by the same router reconfigure that swaps the route table.
    await waitFor('route change applied', async () => {
      const { items } = await api<{ items: { name: string }[] }>('/api/v1/targets');
      return items.some((t) => t.name === 'redis-v2');
    });
    for (const a of agents) {
      await pushOk(a.stateDir, [
        ...Array.from({ length: 50 }, (_, i) => ({ run: 'd', agent: a.name, seq: i, value: 50 })),
        ...Array.from({ length: 50 }, (_, i) => ({ run: 'd', agent: a.name, seq: 50 + i, value: 150 })),
      ]);
    }
    const v2 = await waitFor(
      'run d in the new stream',
      async () => {
        const r = runEntries(await readStream(redis.url, STREAM_V2), 'd');
        return r.distinct >= 100 ? r : undefined;
      },
      30_000,
    );
    expect(v2.entries.every((e) => (e.rec.fields as { value: number }).value === 150)).toBe(true);
    expect(runEntries(await readStream(redis.url, STREAM), 'd').entries).toHaveLength(0);
  });
});
