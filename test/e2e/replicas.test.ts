/**
 * Several controllers on one real Redis, as real `gsectl serve --redis` processes, with real agent
 * processes: one leader at a time, followers applying the leader's revision to their own agents, exec
 * routed to the replica holding a host, failover after SIGKILL, and a stale leader (SIGSTOP past its lease,
 * then SIGCONT) that writes nothing. Needs `npm run build` (dist/). Waits are conditions with generous
 * deadlines; the failover time is printed, never asserted.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/controller.js';
import { configFileYaml } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { type RedisHandle, startRedis } from '../helpers/redis-server.js';
import { clusterState, type ReplicaProcess, startReplica } from '../helpers/replicas.js';

/** Long enough that a loaded 2-core machine never misses a renewal; failover is bounded by it. */
const LEASE_MS = 2_000;
/** Bound for waits that span a failover (lease + reconnects + a Git fetch); a bound, not a speed check. */
const FAILOVER_WAIT_MS = 60_000;
const TEST_TIMEOUT_MS = 180_000;

const appYaml = (content: string) =>
  configFileYaml({ name: 'app', path: '/etc/app.conf', content: `${content}\n` });

interface HostRow {
  hostId: string;
  connected: boolean;
  syncState: string;
  lastReportAt?: string;
}

interface Fleet {
  redis: RedisHandle;
  repo: GitRepo;
  work: string;
  replicas: ReplicaProcess[];
  agents: AgentProcess[];
}

async function startFleet(
  ids: string[],
  agentNames: string[],
  files: Record<string, string> = {},
): Promise<Fleet> {
  const redis = await startRedis();
  const repo = await gitRepo({ 'app.yaml': appYaml('v1'), ...files });
  const work = await mkdtemp(join(tmpdir(), 'gse-replicas-'));
  const replicas: ReplicaProcess[] = [];
  // One after the other: the first one started leads.
  for (const id of ids)
    replicas.push(await startReplica({ id, redisUrl: redis.url, repo: repo.dir, work, leaseMs: LEASE_MS }));
  const agents = await Promise.all(
    agentNames.map((name, i) =>
      startAgentProcess({ controllerUrl: (replicas[i % replicas.length] as ReplicaProcess).agentUrl, name }),
    ),
  );
  return { redis, repo, work, replicas, agents };
}

async function stopFleet(f: Fleet | undefined): Promise<void> {
  if (!f) return;
  for (const a of f.agents) await a.cleanup();
  for (const r of f.replicas) {
    await r.signal('SIGCONT');
    await r.signal('SIGKILL');
  }
  await f.redis.cleanup();
  await f.repo.cleanup();
  await rm(f.work, { recursive: true, force: true });
}

const fileOf = (agent: AgentProcess) => agent.read('/etc/app.conf').catch(() => undefined);

async function waitContent(agents: AgentProcess[], content: string, timeoutMs = FAILOVER_WAIT_MS) {
  for (const a of agents)
    await waitFor(
      `${a.name} holding ${content}`,
      async () => (await fileOf(a)) === `${content}\n`,
      timeoutMs,
    );
}

async function hostsOf(r: ReplicaProcess): Promise<Map<string, HostRow>> {
  const { body } = await r.api<{ items: HostRow[] }>('/api/v1/hosts?limit=1000');
  return new Map(body.items.map((h) => [h.hostId, h]));
}

/** Runs `script` on every host through `via`; the ndjson lines it streamed. */
async function execAll(via: ReplicaProcess, script: string) {
  const res = await via.api('/api/v1/exec', { hosts: '*', script, timeoutMs: 30_000 });
  expect(res.status).toBe(200);
  return res.text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('two replicas on one Redis', () => {
  let f: Fleet;
  let a: ReplicaProcess;
  let b: ReplicaProcess;

  beforeAll(async () => {
    f = await startFleet(['ctl-a', 'ctl-b'], ['host-x', 'host-y']);
    [a, b] = f.replicas as [ReplicaProcess, ReplicaProcess];
  }, TEST_TIMEOUT_MS);
  afterAll(() => stopFleet(f), TEST_TIMEOUT_MS);

  it(
    'has one leader, whose revision both replicas send to the agents they hold',
    async () => {
      const state = await clusterState(f.redis.url);
      expect(state.leader).toBe('ctl-a');
      await waitContent(f.agents, 'v1');
      expect((await clusterState(f.redis.url)).revision).toBe(await f.repo.head());
      // Only the leader followed Git; the follower applied what the leader published.
      expect(a.stderr()).toContain('"msg":"revision accepted"');
      expect(b.stderr()).not.toContain('"msg":"revision accepted"');
      expect(b.stderr()).toContain('applying the revision the leader published');
      // Both replicas list both hosts as connected and Synced (each writes only the hosts it holds).
      for (const r of [a, b]) {
        const hosts = await waitFor(`${r.id} listing both hosts Synced`, async () => {
          const h = await hostsOf(r);
          const ok = ['host-x', 'host-y'].every(
            (id) => h.get(id)?.syncState === 'Synced' && h.get(id)?.connected,
          );
          return ok ? h : undefined;
        });
        expect(hosts.size).toBe(2);
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'runs an exec sent through one replica on the host another replica holds, once',
    async () => {
      await waitContent(f.agents, 'v1');
      const log = join(f.work, 'ran.log');
      const lines = await execAll(a, `echo ran >> ${log}; echo hello`);
      const results = lines.filter((l) => l.type === 'result');
      expect(results.map((r) => r.hostId).sort()).toEqual(['host-x', 'host-y']);
      expect(results.every((r) => r.status === 'succeeded' && r.stdoutTail === 'hello\n')).toBe(true);
      const summary = lines.at(-1);
      expect(summary).toMatchObject({ type: 'summary', hosts: 2, succeeded: 2, pending: [], offline: [] });
      // Each host ran it exactly once.
      expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual(['ran', 'ran']);
      const taskId = summary?.taskId as string;
      const { body } = await b.api<{ items: Array<{ id: string; hostId: string }> }>(
        `/api/v1/executions?limit=1000`,
      );
      expect(
        body.items
          .filter((e) => e.id === taskId)
          .map((e) => e.hostId)
          .sort(),
      ).toEqual(['host-x', 'host-y']);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'syncs every host through one replica: the replica holding each re-sends its manifest',
    async () => {
      await waitContent(f.agents, 'v1');
      const before = (await hostsOf(a)).get('host-x')?.lastReportAt;
      expect(before).toBeDefined();
      const res = await b.api<{ hosts: string[] }>('/api/v1/sync', {});
      expect(res.status).toBe(200);
      expect(res.body.hosts).toContain('host-y');
      // ctl-a sent host-x its full manifest again; the agent re-verified it and reported.
      await waitFor('host-x reporting again', async () => {
        const h = (await hostsOf(b)).get('host-x');
        return h?.lastReportAt !== undefined && h.lastReportAt !== before && h.syncState === 'Synced';
      });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'forwards a rollout command sent to a follower to the leader, and answers with its refusal',
    async () => {
      expect((await clusterState(f.redis.url)).leader).toBe('ctl-a');
      const res = await b.api<{ error: { message: string } }>('/api/v1/rollouts/nope/pause', {});
      expect(res.status).toBe(404);
      expect(res.text).toContain('no rollout \\"nope\\"');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'lets a leader paused past its lease (SIGSTOP, then SIGCONT) write nothing once it resumes',
    async () => {
      const before = await clusterState(f.redis.url);
      expect(before.leader).toBe('ctl-a');
      await a.signal('SIGSTOP');
      try {
        await waitFor(
          'ctl-b taking the lease',
          async () => (await clusterState(f.redis.url)).leader === 'ctl-b',
          FAILOVER_WAIT_MS,
        );
        const sha = await f.repo.commit({ 'app.yaml': appYaml('v2') }, 'v2 while ctl-a is paused');
        // ctl-b learns of it by its poll or a webhook; the webhook is quicker.
        await waitFor(
          'ctl-b publishing v2',
          async () => {
            await b.api('/api/v1/hooks/git', {});
            return (await clusterState(f.redis.url)).revision === sha;
          },
          FAILOVER_WAIT_MS,
        );
        await waitContent([f.agents[1] as AgentProcess], 'v2');
      } finally {
        await a.signal('SIGCONT');
      }
      await waitFor(
        'ctl-a seeing it lost the lease',
        () => a.stderr().includes('lease lost: this replica follows'),
        FAILOVER_WAIT_MS,
      );
      // ctl-a follows now: its agent gets the leader's v2.
      await waitContent([f.agents[0] as AgentProcess], 'v2');
      // Whichever replica holds host-x now, the shared store says it is connected and Synced, not offline.
      await waitFor(
        'host-x connected and Synced in the shared store',
        async () => {
          const x = (await hostsOf(b)).get('host-x');
          return x?.connected && x.syncState === 'Synced';
        },
        FAILOVER_WAIT_MS,
      );
      const after = await clusterState(f.redis.url);
      expect(after.leader).toBe('ctl-b');
      expect(after.token).toBeGreaterThan(before.token as number);
      expect(after.revision).toBe(await f.repo.head());
      // ctl-a never accepted (nor published) a revision after it resumed: its only one is the first.
      expect(a.stderr().match(/"msg":"revision accepted"/g)?.length).toBe(1);
      // Deposed, ctl-a no longer follows Git: the next commit reaches it only as ctl-b's published revision.
      const sha3 = await f.repo.commit({ 'app.yaml': appYaml('v3') }, 'v3 after ctl-a resumed');
      await waitFor(
        'ctl-b publishing v3',
        async () => {
          await b.api('/api/v1/hooks/git', {});
          return (await clusterState(f.redis.url)).revision === sha3;
        },
        FAILOVER_WAIT_MS,
      );
      await waitContent(f.agents.slice(0, 2), 'v3');
      expect(a.stderr()).not.toContain(`"sha":"${sha3}","treeDir"`);
      expect(a.stderr()).toContain(`"msg":"applying the revision the leader published","sha":"${sha3}"`);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "stores a paused follower's hosts again once it resumes, after the leader marked them offline",
    async () => {
      expect((await clusterState(f.redis.url)).leader).toBe('ctl-b');
      const hostX = async () => (await hostsOf(b)).get('host-x');
      await waitFor('host-x connected and Synced', async () => {
        const x = await hostX();
        return x?.connected && x.syncState === 'Synced';
      });
      // Paused, ctl-a stops refreshing its directory entries; the leader sweeps them and stores host-x
      // offline, though its agent's socket to ctl-a stays open.
      await a.signal('SIGSTOP');
      try {
        await waitFor(
          'ctl-b storing host-x offline',
          async () => {
            const x = await hostX();
            return x !== undefined && !x.connected && x.syncState === 'Unknown';
          },
          FAILOVER_WAIT_MS,
        );
      } finally {
        await a.signal('SIGCONT');
      }
      // Resumed, ctl-a finds its entries swept, claims them again and stores its hosts' state again.
      await waitFor(
        'host-x connected and Synced again',
        async () => {
          const x = await hostX();
          return x?.connected && x.syncState === 'Synced';
        },
        FAILOVER_WAIT_MS,
      );
      expect(a.stderr()).toContain('sessions swept while this replica was silent; claimed again');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'closes the session of an agent revoked through a replica that does not hold it',
    async () => {
      const y = f.agents[1] as AgentProcess;
      await waitFor('host-y connected to ctl-b', async () => (await hostsOf(b)).get('host-y')?.connected);
      const res = await a.api('/api/v1/agents/host-y/revoke', {});
      expect(res.status).toBe(200);
      // ctl-b closes the session (4003): the agent stops, and cannot come back.
      const exit = await Promise.race([
        y.exited(),
        new Promise<undefined>((r) => setTimeout(() => r(undefined), FAILOVER_WAIT_MS)),
      ]);
      expect(exit, 'host-y still running after its revoke').toBeDefined();
      expect(y.stderr()).toContain('revoked');
      await waitFor('host-y offline', async () => (await hostsOf(a)).get('host-y')?.connected === false);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('three replicas on one Redis: failover', () => {
  let f: Fleet;

  beforeAll(async () => {
    f = await startFleet(['ctl-1', 'ctl-2', 'ctl-3'], ['host-1', 'host-2', 'host-3']);
  }, TEST_TIMEOUT_MS);
  afterAll(() => stopFleet(f), TEST_TIMEOUT_MS);

  it(
    'moves leadership after the leader is SIGKILLed, turns its hosts Unknown, and converges a commit made meanwhile',
    async () => {
      const [r1, r2, r3] = f.replicas as [ReplicaProcess, ReplicaProcess, ReplicaProcess];
      const [h1, h2, h3] = f.agents as [AgentProcess, AgentProcess, AgentProcess];
      await waitContent(f.agents, 'v1');
      expect((await clusterState(f.redis.url)).leader).toBe('ctl-1');
      await waitFor(
        'ctl-3 listing host-1 connected',
        async () => (await hostsOf(r3)).get('host-1')?.connected,
      );

      const killedAt = Date.now();
      await r1.signal('SIGKILL');
      const sha = await f.repo.commit({ 'app.yaml': appYaml('v2') }, 'v2 during the failover');
      const leader = await waitFor(
        'a survivor taking the lease',
        async () => {
          const l = (await clusterState(f.redis.url)).leader;
          return l === 'ctl-2' || l === 'ctl-3' ? l : undefined;
        },
        FAILOVER_WAIT_MS,
      );
      const failoverMs = Date.now() - killedAt;
      const survivor = leader === 'ctl-2' ? r2 : r3;
      // host-1's replica died: the leader sweeps its directory entry and the host turns Unknown.
      await waitFor(
        'host-1 Unknown',
        async () => {
          const h = (await hostsOf(survivor)).get('host-1');
          return h && !h.connected && h.syncState === 'Unknown';
        },
        FAILOVER_WAIT_MS,
      );
      const unknownMs = Date.now() - killedAt;
      console.log(
        JSON.stringify({ figure: 'replica failover (lease 2 s)', failoverMs, hostsUnknownMs: unknownMs }),
      );
      // The new leader fetches Git as it starts following it; the webhook only makes sure it looks now.
      await waitFor(
        'the new leader publishing v2',
        async () => {
          await survivor.api('/api/v1/hooks/git', {});
          return (await clusterState(f.redis.url)).revision === sha;
        },
        FAILOVER_WAIT_MS,
      );
      await waitContent([h2, h3], 'v2');
      // host-1's agent reconnects to a survivor and converges too.
      await h1.restart(r2.agentUrl);
      await waitContent([h1], 'v2');
      await waitFor(
        'every host connected and Synced again',
        async () => {
          const h = await hostsOf(r3);
          return ['host-1', 'host-2', 'host-3'].every(
            (id) => h.get(id)?.connected && h.get(id)?.syncState === 'Synced',
          );
        },
        FAILOVER_WAIT_MS,
      );
      // An exec through one survivor reaches every host once.
      const log = join(f.work, 'ran-after-failover.log');
      const lines = await execAll(r3, `echo ran >> ${log}`);
      expect(lines.at(-1)).toMatchObject({ type: 'summary', hosts: 3, succeeded: 3, offline: [] });
      expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual(['ran', 'ran', 'ran']);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('agent.lost across replicas', () => {
  let f: Fleet;
  let markers: string;

  beforeAll(async () => {
    markers = await mkdtemp(join(tmpdir(), 'gse-replicas-lost-'));
    const rule = `apiVersion: gse/v1
kind: Remediation
metadata: { name: lost-web }
spec:
  on: { event: agent.lost, grace: 2s }
  hosts: { names: ["web-*"] }
  runner: { host: ops-1 }
  run:
    script: 'echo "lost $GSE_LOST_HOST" >> ${markers}/lost'
    timeout: 10s
`;
    // web-1 on the leader ctl-a; the runner ops-1 on the follower ctl-b.
    f = await startFleet(['ctl-a', 'ctl-b'], ['web-1', 'ops-1'], { 'lost.yaml': rule });
  }, TEST_TIMEOUT_MS);
  afterAll(async () => {
    await stopFleet(f);
    if (markers) await rm(markers, { recursive: true, force: true });
  }, TEST_TIMEOUT_MS);

  it(
    "runs the leader's agent.lost decision once on a runner host another replica holds",
    async () => {
      const [a] = f.replicas as [ReplicaProcess, ReplicaProcess];
      await waitContent(f.agents, 'v1');
      expect((await clusterState(f.redis.url)).leader).toBe('ctl-a');
      await (f.agents[0] as AgentProcess).kill('SIGKILL');
      const lostLog = async () =>
        (await readFile(join(markers, 'lost'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
      await waitFor(
        'the runner on ctl-b running the script',
        async () => (await lostLog()).length > 0,
        FAILOVER_WAIT_MS,
      );
      const runs = await waitFor(
        'the run recorded as finished',
        async () => {
          const { body } = await a.api<{ items: Array<{ hostId: string; status: string }> }>(
            '/api/v1/executions?remediation=lost-web',
          );
          return body.items.length > 0 && body.items.every((r) => r.status !== 'running')
            ? body.items
            : undefined;
        },
        FAILOVER_WAIT_MS,
      );
      expect(runs).toEqual([expect.objectContaining({ hostId: 'ops-1', status: 'succeeded' })]);
      expect(await lostLog()).toEqual(['lost web-1']);
    },
    TEST_TIMEOUT_MS,
  );
});
