/**
 * SIGKILL the leader replica mid-sync and mid-rollout: real `gsectl serve --redis` processes on one real
 * redis-server and one real git repo, simulated agents (`gse-agent simulate`) given every replica's URL, and
 * real agent processes for file content and exec. Waits are conditions with generous deadlines for a loaded
 * 2-core machine; the measured failover and recovery times are printed (console.log), never asserted as speed.
 *
 * Mid-sync (3 replicas, 150 simulated + 2 real agents spread over them), what must hold:
 *  - another replica holds the lease within LEASE_MS + FAILOVER_BOUND_MS of the kill;
 *  - a commit made during the failover converges everywhere: every host Synced on it, the real agents' files
 *    hold its content;
 *  - every agent reconnects to a survivor: the survivors list all hosts connected, and no others;
 *  - no record is lost: a drift record and the execution records written before the kill are still
 *    readable through a survivor's API afterwards (the executions finished, `succeeded`);
 *  - an exec started before the kill (still running on the agents when the leader dies) ran exactly once on
 *    each real agent: its script appends a line to a file under the agent's --root, and there is one line.
 *    real-1 is held by the leader at the kill (its second URL, to ctl-2 through a TCP proxy, opens only at
 *    the kill), and its exec is sent through ctl-2: the work goes through the dead leader's inbox and the
 *    result comes back through a survivor; real-2 lands wherever its random first pick takes it.
 *
 * Mid-rollout (2 replicas, 50 simulated agents given both URLs, each starting at a random one, so the
 * rollout's hosts sit on both replicas and an upgraded instance reconnects to either): the leader steps the
 * rollout over the whole cluster's hosts, those on the follower as the follower stored them (record and
 * AgentVersion status), stepping when the follower hints that one of its hosts changed. The leader is
 * SIGKILLed once a few steps are done; its agents fail over to ctl-b, which takes the lease and must resume
 * the stored rollout. What must hold: the hosts were spread over both replicas before the kill; the new
 * leader completes the rollout on the new version; no host is upgraded twice (each simulated instance logs
 * one restart per upgrade) and no step runs twice (every host sits in one batch, batches no larger than
 * batchSize, hosts of steps taken before the kill keep their batch and state); nothing recorded before the
 * kill is lost (the rollout's hosts already upgraded stay upgraded).
 */
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_VERSION } from '../../agent/facts.js';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/controller.js';
import { configFileYaml, type DriftRow, type ExecutionRow, type HostRow } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { type RedisHandle, startRedis } from '../helpers/redis-server.js';
import { clusterState, type ReplicaProcess, sessionsByReplica, startReplica } from '../helpers/replicas.js';
import { type Simulator, simulatorWorkDir, startSimulator } from '../helpers/simulator.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/** The leader lease; long enough that a loaded 2-core machine never misses a renewal. */
const LEASE_MS = 2_000;
/** Slack on top of the lease for a survivor to take it (renewal period, a loaded machine). */
const FAILOVER_BOUND_MS = 30_000;
/** Bound for every host to be back and Synced on the new revision after the kill. */
const RECOVERY_MS = 150_000;
/** Bound for the fleet to connect and converge at first. */
const SETUP_MS = 150_000;
const SIM_AGENTS = 150;
/** real-1 on the leader (see beforeAll), real-2 wherever it lands. */
const REAL_AGENTS = ['real-1', 'real-2'];
/** How long the exec started before the kill keeps running on the agents (so the kill lands mid-run). */
const EXEC_SLEEP_S = 6;
const ROLLOUT_HOSTS = 50;
const ROLLOUT_BATCH = 5;
/** A simulated upgrade's download + restart: long enough that the kill lands mid-rollout. */
const UPGRADE_DELAY_MS = 1_500;
const ROLLOUT_TARGET = '99.0.0';

const appYaml = (content: string) =>
  configFileYaml({ name: 'app', path: '/etc/app.conf', content: `${content}\n` });

interface Page<T> {
  items: T[];
  nextCursor?: string;
}

/** Every item of a paged list through `r`. */
async function listAll<T>(r: ReplicaProcess, path: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const url = `${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const { status, body, text } = await r.api<Page<T>>(url);
    if (status !== 200) throw new Error(`GET ${url} via ${r.id}: ${status} ${text.slice(0, 300)}`);
    out.push(...body.items);
    cursor = body.nextCursor;
  } while (cursor);
  return out;
}

/** Waits until a replica other than `dead` holds the lease; that replica's id. */
async function waitNewLeader(redisUrl: string, dead: string, timeoutMs: number): Promise<string> {
  return waitFor(
    'a survivor holding the lease',
    async () => {
      const l = (await clusterState(redisUrl)).leader;
      return l !== undefined && l !== dead ? l : undefined;
    },
    timeoutMs,
  );
}

/** Asks `leader` to fetch (webhook) until it published `sha`. */
async function waitPublished(leader: ReplicaProcess, redisUrl: string, sha: string): Promise<void> {
  await waitFor(
    `${leader.id} publishing ${sha.slice(0, 12)}`,
    async () => {
      if ((await clusterState(redisUrl)).revision === sha) return true;
      await leader.api('/api/v1/hooks/git', {});
      return (await clusterState(redisUrl)).revision === sha;
    },
    RECOVERY_MS,
  );
}

/** A host count summary for failure messages and progress lines. */
function summary(hosts: HostRow[], sha: string): string {
  const connected = hosts.filter((h) => h.connected).length;
  const synced = hosts.filter((h) => h.syncState === 'Synced' && h.revision === sha).length;
  return `${hosts.length} hosts, ${connected} connected, ${synced} Synced on ${sha.slice(0, 12)}`;
}

const lines = async (file: string) =>
  (await readFile(file, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');

describe('leader SIGKILLed mid-sync (3 replicas, 150 simulated + 2 real agents)', () => {
  let redis: RedisHandle;
  let repo: GitRepo;
  let work: string;
  let simRoot: string;
  const replicas: ReplicaProcess[] = [];
  const reals: AgentProcess[] = [];
  let sim: Simulator | undefined;
  let proxy: TcpProxy | undefined;
  const allHosts = SIM_AGENTS + REAL_AGENTS.length;

  beforeAll(async () => {
    redis = await startRedis();
    repo = await gitRepo({ 'app.yaml': appYaml('v1') });
    work = await mkdtemp(join(tmpdir(), 'gse-faults-leader-'));
    simRoot = await simulatorWorkDir('gse-faults-leader-sim-');
    // One after the other: the first one started leads.
    for (const id of ['ctl-1', 'ctl-2', 'ctl-3'])
      replicas.push(await startReplica({ id, redisUrl: redis.url, repo: repo.dir, work, leaseMs: LEASE_MS }));
    const urls = replicas.map((r) => r.agentUrl);
    const [r1, r2] = replicas as [ReplicaProcess, ReplicaProcess];
    // real-1 is held by the leader when it dies: its other way out (to ctl-2) stays closed until the kill.
    proxy = await startTcpProxy(r2.port);
    proxy.drop();
    reals.push(
      await startAgentProcess({
        controllerUrl: `${r1.agentUrl},wss://127.0.0.1:${proxy.port}/agent`,
        name: 'real-1',
      }),
    );
    reals.push(await startAgentProcess({ controllerUrl: urls.join(','), name: 'real-2' }));
    sim = await startSimulator({ count: SIM_AGENTS, controllerUrls: urls, root: simRoot });
  }, SETUP_MS);

  afterAll(async () => {
    await sim?.stop();
    for (const a of reals) await a.cleanup();
    for (const r of replicas) await r.signal('SIGKILL');
    await proxy?.close();
    await redis?.cleanup();
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
    if (simRoot) await rm(simRoot, { recursive: true, force: true });
  }, 120_000);

  it('moves the lease, converges a commit made meanwhile, reconnects every agent, loses no record, runs an exec once', async () => {
    const [r1, r2, r3] = replicas as [ReplicaProcess, ReplicaProcess, ReplicaProcess];
    const v1 = await repo.head();
    let last: HostRow[] = [];
    await waitFor(
      `all ${allHosts} hosts connected and Synced on v1`,
      async () => {
        sim?.assertRunning();
        last = await listAll<HostRow>(r2, '/api/v1/hosts');
        return (
          last.length === allHosts &&
          last.every((h) => h.connected && h.syncState === 'Synced' && h.revision === v1)
        );
      },
      SETUP_MS,
    ).catch((err: Error) => {
      throw new Error(`${err.message} (${summary(last, v1)})`);
    });
    expect((await clusterState(redis.url)).leader).toBe('ctl-1');

    // A drift record before the kill: real-1's file changed behind the agent's back.
    const [real1, real2] = reals as [AgentProcess, AgentProcess];
    await appendFile(real1.path('/etc/app.conf'), 'tampered\n');
    const drift = await waitFor(
      'a drift record for real-1',
      async () => (await listAll<DriftRow>(r2, '/api/v1/drift?host=real-1'))[0],
      RECOVERY_MS,
    );

    // An exec per real agent, each sent through a follower, still running when the leader dies.
    const execs: Array<{ agent: AgentProcess; taskId: string }> = [];
    for (const [agent, via] of [
      [real1, r2],
      [real2, r3],
    ] as const) {
      const script = `echo ran >> ${agent.path('/ran.log')}; sleep ${EXEC_SLEEP_S}; echo done >> ${agent.path('/done.log')}`;
      const res = await via.api<{ taskId: string; hosts: string[]; offline: string[] }>('/api/v1/exec', {
        hosts: `name=${agent.name}`,
        script,
        timeoutMs: 60_000,
        wait: false,
      });
      expect(res.status, res.text).toBe(200);
      expect(res.body.hosts).toEqual([agent.name]);
      execs.push({ agent, taskId: res.body.taskId });
    }
    for (const { agent } of execs)
      await waitFor(
        `${agent.name} running the exec`,
        async () => (await lines(agent.path('/ran.log'))).length > 0,
      );

    // Commit v2 and kill the leader as soon as it published v2, while hosts are still converging.
    const v2 = await repo.commit({ 'app.yaml': appYaml('v2') }, 'v2, the leader dies while hosts converge');
    await waitPublished(r1, redis.url, v2);
    proxy?.allow();
    const killedAt = Date.now();
    await r1.signal('SIGKILL');
    const atKill = await listAll<HostRow>(r2, '/api/v1/hosts');
    console.log(`mid-sync kill: ${summary(atKill, v2)} when ctl-1 was SIGKILLed`);

    // A further commit during the failover.
    const v3 = await repo.commit({ 'app.yaml': appYaml('v3') }, 'v3 during the failover');
    const leaderId = await waitNewLeader(redis.url, 'ctl-1', LEASE_MS + FAILOVER_BOUND_MS);
    const failoverMs = Date.now() - killedAt;
    const leader = leaderId === 'ctl-2' ? r2 : r3;
    const other = leader === r2 ? r3 : r2;
    await waitPublished(leader, redis.url, v3);
    const publishedMs = Date.now() - killedAt;

    await waitFor(
      `all ${allHosts} hosts connected to a survivor and Synced on v3`,
      async () => {
        sim?.assertRunning();
        last = await listAll<HostRow>(other, '/api/v1/hosts');
        return (
          last.length === allHosts &&
          last.every((h) => h.connected && h.syncState === 'Synced' && h.revision === v3)
        );
      },
      RECOVERY_MS,
    ).catch((err: Error) => {
      throw new Error(`${err.message} (${summary(last, v3)})`);
    });
    const recoveredMs = Date.now() - killedAt;
    console.log(
      JSON.stringify({
        figure: 'leader SIGKILL mid-sync (3 replicas, lease 2 s)',
        hosts: allHosts,
        newLeader: leaderId,
        failoverMs,
        newCommitPublishedMs: publishedMs,
        allHostsSyncedOnNewCommitMs: recoveredMs,
      }),
    );
    for (const a of reals) expect(await a.read('/etc/app.conf')).toBe('v3\n');

    // The exec ran once on each real agent, and its record (written before the kill) ends succeeded.
    for (const { agent, taskId } of execs) {
      await waitFor(
        `${agent.name} finishing the exec`,
        async () => (await lines(agent.path('/done.log'))).length > 0,
        RECOVERY_MS,
      );
      const rec = await waitFor(
        `${agent.name}'s execution record succeeded`,
        async () => {
          const rows = await listAll<ExecutionRow>(other, `/api/v1/executions?host=${agent.name}`);
          return rows.find((e) => e.id === taskId && e.status === 'succeeded');
        },
        RECOVERY_MS,
      );
      expect(rec.hostId).toBe(agent.name);
      const all = await listAll<ExecutionRow>(leader, `/api/v1/executions?host=${agent.name}`);
      expect(all.filter((e) => e.id === taskId)).toHaveLength(1);
    }
    // Checked last, after the reconnects and re-sent manifests: still exactly one run each.
    for (const { agent } of execs) {
      expect(await lines(agent.path('/ran.log'))).toEqual(['ran']);
      expect(await lines(agent.path('/done.log'))).toEqual(['done']);
    }
    // The drift record written before the kill is still there.
    const driftAfter = await listAll<DriftRow>(leader, '/api/v1/drift?host=real-1');
    expect(driftAfter.map((d) => d.id)).toContain(drift.id);
  }, 600_000);
});

interface RolloutView {
  rollout: { id: string; version: string; phase: string; pauseReason?: string; batchSize?: number };
  batch: number;
  batches: number;
  hosts: Array<{ hostId: string; batch: number; state: string; runningVersion?: string }>;
}

function agentVersionYaml(version: string): string {
  const spec = {
    version,
    // A simulated upgrade downloads nothing: the URL is never fetched.
    artifact: { url: 'http://127.0.0.1:9/gse-agent.tgz', sha256: 'b'.repeat(64) },
    hosts: { names: ['*'] },
    rollout: {
      batchSize: ROLLOUT_BATCH,
      maxUnavailable: ROLLOUT_BATCH,
      maxFailures: 0,
      healthDeadline: '90s',
    },
  };
  return `apiVersion: gse/v1\nkind: AgentVersion\nmetadata: {"name": "agents"}\nspec: ${JSON.stringify(spec)}\n`;
}

/** Upgrade restarts per simulated instance, from the simulator's log lines. */
function upgradesByName(stderr: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of stderr.split('\n')) {
    if (!line.includes('"simulated upgrade restarted"')) continue;
    const { name } = JSON.parse(line) as { name: string };
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

describe('leader SIGKILLed mid-rollout (2 replicas, 50 simulated agents on both)', () => {
  let redis: RedisHandle;
  let repo: GitRepo;
  let work: string;
  let simRoot: string;
  const replicas: ReplicaProcess[] = [];
  let sim: Simulator | undefined;

  beforeAll(async () => {
    redis = await startRedis();
    repo = await gitRepo({ 'agents.yaml': agentVersionYaml(AGENT_VERSION) });
    work = await mkdtemp(join(tmpdir(), 'gse-faults-rollout-'));
    simRoot = await simulatorWorkDir('gse-faults-rollout-sim-');
    for (const id of ['ctl-a', 'ctl-b'])
      replicas.push(await startReplica({ id, redisUrl: redis.url, repo: repo.dir, work, leaseMs: LEASE_MS }));
    const [a, b] = replicas as [ReplicaProcess, ReplicaProcess];
    sim = await startSimulator({
      count: ROLLOUT_HOSTS,
      controllerUrls: [a.agentUrl, b.agentUrl],
      root: simRoot,
      upgradeDelayMs: UPGRADE_DELAY_MS,
      logLevel: 'info',
      tailChars: 20_000_000,
    });
    await waitFor(
      `${ROLLOUT_HOSTS} hosts connected`,
      async () => {
        sim?.assertRunning();
        const hosts = await listAll<HostRow>(a, '/api/v1/hosts');
        return hosts.length === ROLLOUT_HOSTS && hosts.every((h) => h.connected);
      },
      SETUP_MS,
    );
  }, SETUP_MS + 60_000);

  afterAll(async () => {
    await sim?.stop();
    for (const r of replicas) await r.signal('SIGKILL');
    await redis?.cleanup();
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
    if (simRoot) await rm(simRoot, { recursive: true, force: true });
  }, 120_000);

  it('lets the new leader resume and complete the rollout, upgrading each host once, losing nothing', async () => {
    const [a, b] = replicas as [ReplicaProcess, ReplicaProcess];
    expect((await clusterState(redis.url)).leader).toBe('ctl-a');
    // The random first pick spreads the rollout's hosts over both replicas (a 2^-49 chance of one side).
    const spread = await sessionsByReplica(redis.url);
    console.log(`mid-rollout hosts per replica at the start: ${JSON.stringify(spread)}`);
    expect(spread['ctl-a'] ?? 0).toBeGreaterThan(0);
    expect(spread['ctl-b'] ?? 0).toBeGreaterThan(0);
    const rollout = async (via: ReplicaProcess) => {
      const res = await via.api<RolloutView>('/api/v1/rollouts/agents');
      return res.status === 200 ? res.body : undefined;
    };
    await repo.commit(
      { 'agents.yaml': agentVersionYaml(ROLLOUT_TARGET) },
      `agents ${ROLLOUT_TARGET} in steps`,
    );
    await a.api('/api/v1/hooks/git', {});
    // Kill once a few steps are done and more remain.
    let seen: RolloutView | undefined;
    const before = await waitFor(
      'the rollout at its third step',
      async () => {
        const v = await rollout(a);
        seen = v;
        if (v?.rollout.phase === 'Paused') throw new Error(`rollout paused: ${v.rollout.pauseReason}`);
        return v && v.rollout.version === ROLLOUT_TARGET && v.batch >= 3 ? v : undefined;
      },
      RECOVERY_MS,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last seen: ${JSON.stringify(seen)?.slice(0, 2_000)}`);
    });
    const atKill = await sessionsByReplica(redis.url);
    const killedAt = Date.now();
    await a.signal('SIGKILL');
    console.log(`mid-rollout hosts per replica at the kill: ${JSON.stringify(atKill)}`);
    const upgradedBefore = before.hosts.filter((h) => h.state === 'upgraded');
    console.log(
      `mid-rollout kill: step ${before.batch} of ${before.batches}, ${upgradedBefore.length} of ${ROLLOUT_HOSTS} hosts upgraded`,
    );
    expect(before.batch).toBeLessThan(before.batches);

    await waitNewLeader(redis.url, 'ctl-a', LEASE_MS + FAILOVER_BOUND_MS);
    const failoverMs = Date.now() - killedAt;
    let last: RolloutView | undefined;
    const done = await waitFor(
      'the new leader completing the rollout',
      async () => {
        sim?.assertRunning();
        last = await rollout(b);
        if (last?.rollout.phase === 'Paused') throw new Error(`rollout paused: ${last.rollout.pauseReason}`);
        return last?.rollout.version === ROLLOUT_TARGET && last.rollout.phase === 'Completed'
          ? last
          : undefined;
      },
      RECOVERY_MS,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last seen: ${JSON.stringify(last)?.slice(0, 2_000)}`);
    });
    const completedMs = Date.now() - killedAt;
    console.log(
      JSON.stringify({
        figure: 'leader SIGKILL mid-rollout (2 replicas, lease 2 s)',
        hosts: ROLLOUT_HOSTS,
        stepAtKill: before.batch,
        steps: done.batches,
        failoverMs,
        rolloutCompletedMs: completedMs,
      }),
    );

    // Every host upgraded, in exactly one step, none larger than the batch size.
    expect(done.hosts).toHaveLength(ROLLOUT_HOSTS);
    expect(done.hosts.every((h) => h.state === 'upgraded' && h.runningVersion === ROLLOUT_TARGET)).toBe(true);
    expect(new Set(done.hosts.map((h) => h.hostId)).size).toBe(ROLLOUT_HOSTS);
    const perBatch = new Map<number, number>();
    for (const h of done.hosts) perBatch.set(h.batch, (perBatch.get(h.batch) ?? 0) + 1);
    expect(Math.max(...perBatch.values())).toBeLessThanOrEqual(ROLLOUT_BATCH);
    // What was recorded before the kill is kept: those hosts stay upgraded, in the step they were in.
    const byId = new Map(done.hosts.map((h) => [h.hostId, h]));
    for (const h of upgradedBefore)
      expect(byId.get(h.hostId)).toMatchObject({ batch: h.batch, state: 'upgraded' });
    // No host upgraded twice: one restart per simulated instance.
    await waitFor(
      'every instance restarted',
      () => upgradesByName(sim?.stderr() ?? '').size === ROLLOUT_HOSTS,
    );
    const counts = upgradesByName(sim?.stderr() ?? '');
    expect([...counts.values()].filter((n) => n !== 1)).toEqual([]);
  }, 600_000);
});
