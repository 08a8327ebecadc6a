/**
 * Control before data (issue #9 item 15) and replayed frame ids (item 9, after authentication), against real
 * parts: a real controller on a real git repo, real agent processes, a real redis-server (stopped to play a
 * dead target), records pushed with `gse-agent push`, and a raw ws client for the replay. Needs dist/.
 */
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ControllerToAgent, ManifestFullMessage } from '../../src/protocol/messages.js';
import { AGENT_MAIN, type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import {
  type RunningController,
  startController,
  TEST_BOOTSTRAP_TOKEN,
  waitFor,
} from '../helpers/controller.js';
import { configFileYaml, listExecutions, listHosts, waitSynced } from '../helpers/e2e-fleet.js';
import { gitRepo } from '../helpers/git-repo.js';
import { startRedis } from '../helpers/redis-server.js';

/** The figure: 40,000 records to a dead Redis target cut the host off. */
const RECORDS = 40_000;
/** A small target spool, so it fills and the data lane saturates (the case that cut hosts off). */
const TARGET_SPOOL_BYTES = 1_000_000;
const STREAM = 'sec:lane';
const SLOW_TEST_MS = 240_000;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

const dataYaml = (redisUrl: string) => `
apiVersion: gse/v1
kind: StreamTarget
metadata: { name: dead-redis }
spec:
  redis: { url: "${redisUrl}", mode: stream, key: "${STREAM}", maxLen: 1000000 }
  spool: { maxBytes: ${TARGET_SPOOL_BYTES} }
---
apiVersion: gse/v1
kind: Route
metadata: { name: metrics }
spec:
  channel: metrics
  targets: [{ name: dead-redis }]
  batch: { maxRecords: 500, maxDelay: 50ms }
`;

const motd = (content: string) => configFileYaml({ name: 'motd', path: '/etc/motd', content });

async function fleet(files: Record<string, string>) {
  const repo = await gitRepo(files);
  cleanups.push(() => repo.cleanup());
  const ctl = await startController(repo.dir);
  cleanups.push(() => ctl.cleanup());
  return { repo, ctl };
}

async function agentFor(ctl: RunningController, name: string): Promise<AgentProcess> {
  const a = await startAgentProcess({ controllerUrl: ctl.agentUrl, name });
  cleanups.push(() => a.cleanup());
  return a;
}

/** Runs an ad-hoc exec on one host and waits until its result is recorded as succeeded. */
async function execAnswers(ctl: RunningController, host: string): Promise<void> {
  const started = await ctl.api<{ taskId: string; hosts: string[] }>('/api/v1/exec', {
    body: { hosts: `name=${host}`, script: 'echo still-here', wait: false },
  });
  expect(started.status).toBe(200);
  expect(started.body.hosts).toEqual([host]);
  const done = await waitFor(`exec on ${host} answered`, async () =>
    (await listExecutions(ctl, host)).find((e) => e.id === started.body.taskId && e.status === 'succeeded'),
  );
  expect(done.stdoutTail).toContain('still-here');
}

/** `gse-agent push` of `n` records on channel `metrics`, tagged `run`; resolves with its exit code. */
function pushRecords(stateDir: string, n: number, run: string): Promise<number | null> {
  const child = spawn(
    process.execPath,
    [AGENT_MAIN, 'push', '--state-dir', stateDir, '--channel', 'metrics'],
    {
      stdio: ['pipe', 'ignore', 'ignore'],
    },
  );
  cleanups.push(async () => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let text = '';
  for (let i = 0; i < n; i++) text += `{"run":"${run}","seq":${i},"pad":"${'x'.repeat(80)}"}\n`;
  child.stdin.end(text);
  return exited;
}

async function distinctRids(url: string, run: string): Promise<number> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  client.on('error', () => {});
  try {
    await client.connect();
    const rids = new Set<string>();
    let start = '-';
    for (;;) {
      const page = await client.xrange(STREAM, start, '+', 'COUNT', 10_000);
      for (const [, fields] of page) {
        const data = fields[fields.indexOf('data') + 1] ?? '{}';
        const rid = fields[fields.indexOf('rid') + 1] ?? '';
        if ((JSON.parse(data) as { fields?: { run?: string } }).fields?.run === run) rids.add(rid);
      }
      if (page.length < 10_000) return rids.size;
      start = `(${(page.at(-1) as [string, string[]])[0]}`;
    }
  } finally {
    client.disconnect();
  }
}

interface TargetRow {
  name: string;
  connected: boolean;
  pressure: boolean;
  spoolBytes: number;
  lastError?: string;
}

/** A raw ws client: decoded frames in arrival order, and a wait for the first one matching. */
async function rawAgent(ctl: RunningController) {
  const ws = new WebSocket(ctl.agentUrl, ctl.wsOptions());
  cleanups.push(async () => ws.close());
  const frames: ControllerToAgent[] = [];
  let wake: (() => void) | undefined;
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)) as ControllerToAgent);
    wake?.();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = async <T extends ControllerToAgent>(pred: (m: ControllerToAgent) => boolean, from = 0) => {
    for (;;) {
      const found = frames.slice(from).find(pred);
      if (found) return found as T;
      if (ws.readyState !== WebSocket.OPEN) throw new Error('connection closed');
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };
  const ackCount = (id: string) =>
    frames.filter((f) => f.type === 'ack' && f.ids.includes(id)).reduce((n) => n + 1, 0);
  return { ws, frames, next, ackCount, send: (msg: unknown) => ws.send(JSON.stringify(msg)) };
}

describe('security: control before data', () => {
  it(
    'item 15: refuses to queue reports and exec results behind data when the data target is down',
    async () => {
      const redis = await startRedis();
      cleanups.push(() => redis.cleanup());
      await redis.stop();
      const { repo, ctl } = await fleet({
        'fleet/data.yaml': dataYaml(redis.url),
        'fleet/motd.yaml': motd('v1\n'),
      });
      const a = await agentFor(ctl, 'lane-1');
      await waitSynced(ctl, ['lane-1'], await repo.head());

      const pushed = pushRecords(a.stateDir, RECORDS, 'outage');
      // The refusal: the dead target holds the records back (its spool is full, with the write error) ...
      const target = await waitFor(
        'the dead target under pressure',
        async () => {
          const { body } = await ctl.api<{ items: TargetRow[] }>('/api/v1/targets');
          return body.items.find((t) => t.name === 'dead-redis' && t.pressure);
        },
        60_000,
      );
      expect(target.connected).toBe(false);
      expect(target.lastError).toMatch(/\S/);
      expect(target.spoolBytes).toBeGreaterThanOrEqual(TARGET_SPOOL_BYTES);
      // ... while the host's control plane is not held back with them.
      expect(ctl.controller.hub.stats().pausedSessions).toBe(0);

      // The fleet keeps working: exec answers, a commit reaches the host, the host stays Connected.
      await execAnswers(ctl, 'lane-1');
      const sha = await repo.commit({ 'fleet/motd.yaml': motd('v2\n') });
      await ctl.api('/api/v1/hooks/git', { method: 'POST', body: {} });
      await waitSynced(ctl, ['lane-1'], sha);
      expect(await a.read('/etc/motd')).toBe('v2\n');
      expect((await ctl.api<{ items: TargetRow[] }>('/api/v1/targets')).body.items[0]?.pressure).toBe(true);

      // Nothing was lost: once the target is back, every record arrives.
      expect(await pushed).toBe(0);
      await redis.restart();
      await waitFor(
        'every record delivered',
        async () => (await distinctRids(redis.url, 'outage')) === RECORDS,
        180_000,
      );
      await execAnswers(ctl, 'lane-1');
    },
    SLOW_TEST_MS,
  );
});

describe('security: replayed frame ids', () => {
  it('item 9: refuses to handle a replayed frame id twice when an authenticated agent re-sends it', async () => {
    const { repo, ctl } = await fleet({ 'fleet/motd.yaml': motd('v1\n') });
    const honest = await agentFor(ctl, 'honest-1');
    const raw = await rawAgent(ctl);
    raw.send({
      v: 1,
      type: 'hello',
      agentId: 'replayer',
      bootstrapToken: TEST_BOOTSTRAP_TOKEN,
      facts: {
        name: 'replayer',
        ips: ['127.0.0.9'],
        cloudId: 0,
        os: 'linux',
        agentVersion: '0.1.0',
        labels: {},
      },
      manifestHash: '',
      spoolHighWater: 0,
    });
    await raw.next((m) => m.type === 'welcome');
    const { manifest } = await raw.next<ManifestFullMessage>(
      (m) => m.type === 'manifest' && m.mode === 'full',
    );

    // An early report ("I hold nothing"), then the real one: the host is Synced.
    const stale = { v: 1, type: 'report', id: 'rep-stale', manifestHash: '', revision: '', items: [] };
    raw.send(stale);
    await waitFor('stale report acked', () => raw.ackCount('rep-stale') === 1);
    raw.send({
      v: 1,
      type: 'report',
      id: 'rep-current',
      manifestHash: manifest.hash,
      revision: manifest.revision,
      items: manifest.items.map((i) => ({ kind: i.kind, name: i.name, hash: i.hash, state: 'ok' })),
    });
    await waitSynced(ctl, ['replayer', 'honest-1'], await repo.head());

    // The replay of the stale report is acked again (so an honest re-send completes) but not handled:
    // the host's state does not roll back to "holds nothing".
    const before = ctl.controller.hub.stats().replaysIgnored;
    raw.send(stale);
    await waitFor('replay acked', () => raw.ackCount('rep-stale') === 2);
    expect(ctl.controller.hub.stats().replaysIgnored).toBe(before + 1);
    const hosts = await listHosts(ctl);
    expect(hosts.find((h) => h.hostId === 'replayer')).toMatchObject({
      syncState: 'Synced',
      reportedHash: manifest.hash,
    });

    // The fleet keeps working.
    await execAnswers(ctl, 'honest-1');
    await waitSynced(ctl, ['replayer', 'honest-1'], await repo.head());
    expect(await honest.read('/etc/motd')).toBe('v1\n');
  }, 60_000);
});
