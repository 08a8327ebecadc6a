/**
 * Redis, the data target, stops for 10 s while a real agent keeps pushing records through a real controller.
 * What must hold: every record pushed reaches the Redis stream once Redis is back (none lost; at-least-once,
 * so a write cut by the outage may land twice, bounded), and the agent stays connected throughout.
 */
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_MAIN, type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { listHosts } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { type RedisHandle, startRedis } from '../helpers/redis-server.js';

const HOST = 'outage-1';
const STREAM = 'faults:events';
/** How long Redis is down. */
const OUTAGE_MS = 10_000;
/** Records pushed in all, in CHUNKS pushes spread over the outage. */
const RECORDS = 4_000;
const CHUNKS = 20;
/** Bound for "every record arrived" once Redis is back; a bound, not a speed figure. */
const ARRIVAL_TIMEOUT_MS = 90_000;

const dataYaml = (redisUrl: string) => `
apiVersion: gse/v1
kind: StreamTarget
metadata: { name: redis-out }
spec:
  redis: { url: "${redisUrl}", mode: stream, key: "${STREAM}", maxLen: 1000000 }
---
apiVersion: gse/v1
kind: Route
metadata: { name: metrics }
spec:
  channel: metrics
  targets: [{ name: redis-out }]
  batch: { maxRecords: 200, maxDelay: 50ms }
`;

/** The `seq` field of every entry of the stream (a fresh client: Redis may have been restarted). */
async function streamSeqs(url: string): Promise<number[]> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  client.on('error', () => {});
  try {
    await client.connect();
    const out: number[] = [];
    let start = '-';
    for (;;) {
      const page = await client.xrange(STREAM, start, '+', 'COUNT', 5_000);
      for (const [, fields] of page) {
        const data = fields[fields.indexOf('data') + 1] ?? '{}';
        out.push((JSON.parse(data) as { fields?: { seq?: number } }).fields?.seq ?? -1);
      }
      if (page.length < 5_000) return out;
      start = `(${(page.at(-1) as [string, string[]])[0]}`;
    }
  } finally {
    client.disconnect();
  }
}

/** `gse-agent push` of `records` into the agent's ingest socket; resolves with its exit code and stderr. */
function push(stateDir: string, records: object[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    [AGENT_MAIN, 'push', '--state-dir', stateDir, '--channel', 'metrics'],
    {
      stdio: ['pipe', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  child.stdin?.end(`${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

describe('data target outage', () => {
  let redis: RedisHandle;
  let repo: GitRepo;
  let ctl: RunningController;
  let agent: AgentProcess;

  beforeAll(async () => {
    redis = await startRedis();
    repo = await gitRepo({ 'fleet/data.yaml': dataYaml(redis.url) });
    ctl = await startController(repo.dir, { path: 'fleet' });
    agent = await startAgentProcess({ name: HOST, controllerUrl: ctl.agentUrl });
    await waitFor('agent connected', async () =>
      (await listHosts(ctl)).some((h) => h.hostId === HOST && h.connected),
    );
  });

  afterAll(async () => {
    await agent?.stop();
    await ctl?.cleanup();
    await repo?.cleanup();
    await redis?.cleanup();
  });

  it('loses no record when Redis stops for 10 s under load', async () => {
    const per = RECORDS / CHUNKS;
    let pushed = 0;
    let outageOver = false;
    // Pushing runs on its own, before, during and after the outage.
    const pushing = (async () => {
      for (let k = 0; k < CHUNKS; k++) {
        const r = await push(
          agent.stateDir,
          Array.from({ length: per }, (_, i) => ({ seq: k * per + i, value: k })),
        );
        expect(r.stderr).toContain(`pushed ${per} records`);
        expect(r.code).toBe(0);
        pushed += per;
        // Spread the chunks so some land before, most during and the last after the outage.
        if (!outageOver) await new Promise((res) => setTimeout(res, OUTAGE_MS / CHUNKS));
      }
    })();
    await waitFor(
      'some records delivered before the outage',
      async () => (await streamSeqs(redis.url)).length > 0,
      30_000,
    );
    await redis.stop();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    const pushedDuringOutage = pushed;
    await redis.restart();
    outageOver = true;
    await pushing;
    expect(pushed).toBe(RECORDS);

    const seqs = await waitFor(
      `all ${RECORDS} records in Redis`,
      async () => {
        const s = await streamSeqs(redis.url);
        return new Set(s).size >= RECORDS ? s : undefined;
      },
      ARRIVAL_TIMEOUT_MS,
    );
    const distinct = new Set(seqs);
    console.info(
      `redis outage: ${pushedDuringOutage} pushed by the end of the ${OUTAGE_MS} ms outage, ` +
        `${distinct.size} distinct of ${RECORDS} arrived, ${seqs.length - distinct.size} duplicates`,
    );
    expect([...distinct].sort((a, b) => a - b)).toEqual(Array.from({ length: RECORDS }, (_, i) => i));
    // At-least-once: only writes cut by the outage may repeat, a batch or so each.
    expect(seqs.length - distinct.size).toBeLessThanOrEqual(1_000);
    // The agent's session did not suffer for the target's outage.
    expect((await listHosts(ctl)).find((h) => h.hostId === HOST)?.connected).toBe(true);
  });
});
