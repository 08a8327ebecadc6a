/**
 * `npm run bench -- replicas [--hosts 1000,10000] [--replicas 1,2,3] [--runs 3] [--lease-ms 2000]`
 *
 * Controller replicas (`gsectl serve --redis`, child processes, plain HTTP) on one real redis-server, and
 * `--hosts` simulated agents (`gse-agent simulate` child processes, roots on tmpfs) given every replica's URL.
 * For each replica count and host count, on a fresh Redis, repo and fleet:
 *  - agents held per replica once all are connected (each replica's own sessions);
 *  - commit-to-Synced, `--runs` times: from `git commit` + POST /api/v1/hooks/git to the leader until every
 *    host is Synced on the new revision in the shared store (the store's applied revision and Synced count,
 *    read from Redis every 20 ms, reach the commit and the host count; then the full host list through the
 *    leader's API confirms each host's revision; the time is when the count reached it). The count is read
 *    from Redis, not through GET /api/v1/status, so the replicas do not serve 50 requests a second that no
 *    dashboard makes;
 *  - controller RSS per replica after the syncs;
 *  - failover (2+ replicas): SIGKILL the leader -> another replica holds the lease, and -> every agent is
 *    held by a survivor;
 *  - reconnect storm: every replica stopped (SIGTERM) and started again at once on the same ports and state
 *    dirs -> every agent held again (measured from all replicas answering /healthz).
 * Each figure sits beside the issue's goal. Prints one JSON object as its last line.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  type BenchRedis,
  type BenchReplica,
  type ClusterWatch,
  freePort,
  leaseHolder,
  startBenchRedis,
  startBenchReplica,
  watchCluster,
} from './_lib/cluster.js';
import { type SimFleet, startSimulator } from './_lib/fleet-sim.js';
import { probeMachine } from './_lib/machine.js';
import {
  benchRepo,
  ensureOpenFileLimit,
  intArg,
  listArg,
  loadAverage,
  median,
  motdSpec,
  pollUntil,
  progress,
  removeDir,
  round,
  runBench,
  tmpfsDir,
} from './_lib/util.js';

/** The issue's goals. */
const GOALS = {
  commitToSynced1kMs: 700,
  commitToSynced10kMs: 4_000,
  stormMs: 8_000,
  rssMiB: 512,
};
/** How often the full host list may be read to confirm convergence before the Synced count dropped. */
const VERIFY_EVERY_MS = 250;
/** Bound for each measured phase; a phase that does not end within it is reported as null. */
const PHASE_TIMEOUT_MS = 180_000;

let work: string | undefined;
let agentsRoot: string | undefined;
let redis: BenchRedis | undefined;
let replicas: BenchReplica[] = [];
let fleet: SimFleet | undefined;
let watch: ClusterWatch | undefined;

interface HostRow {
  hostId: string;
  connected: boolean;
  syncState: string;
  revision?: string;
}

/** The goal for commit-to-Synced at `hosts` (interpolated on the issue's two points, for other sizes). */
function syncGoalMs(hosts: number): number | null {
  if (hosts === 1_000) return GOALS.commitToSynced1kMs;
  if (hosts === 10_000) return GOALS.commitToSynced10kMs;
  return null;
}

async function allHosts(r: BenchReplica): Promise<HostRow[]> {
  const out: HostRow[] = [];
  let cursor: string | undefined;
  do {
    const { status, body } = await r.api<{ items: HostRow[]; nextCursor?: string }>(
      `/api/v1/hosts?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    if (status !== 200) throw new Error(`GET /api/v1/hosts via ${r.id}: ${status}`);
    out.push(...body.items);
    cursor = body.nextCursor;
  } while (cursor);
  return out;
}

async function heldBy(rs: BenchReplica[]): Promise<number[]> {
  return Promise.all(rs.map((r) => r.held().catch(() => 0)));
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

interface SyncTiming {
  /** Commit + webhook -> every host Synced on the commit; null when PHASE_TIMEOUT_MS passed. */
  totalMs: number | null;
  /** Commit + webhook -> the leader published the revision (gse:cluster:revision). */
  publishedMs: number | null;
  /** What the last poll saw (for a run that timed out). */
  lastSeen: string;
}

/** From the commit to every host Synced on it, with the moment the leader published it. */
async function commitToSynced(
  repo: { commit(files: Record<string, string>, m?: string): Promise<string> },
  leader: BenchReplica,
  cluster: ClusterWatch,
  hosts: number,
  n: number,
): Promise<SyncTiming> {
  const t0 = performance.now();
  const sha = await repo.commit(
    { 'motd.yaml': motdSpec('motd', '/etc/motd', `revision ${n}\n`) },
    `rev ${n}`,
  );
  // Not awaited before polling: the leader answers the hook once it has applied the revision (planned and
  // sent every host), well after it published it, and the publish is what `publishedMs` times.
  const hook = leader.api('/api/v1/hooks/git', {});
  hook.catch(() => undefined); // seen (and thrown) by the await below, not an unhandled rejection meanwhile
  let at: number | null = null;
  let publishedAt: number | null = null;
  let dipped = false;
  let lastSeen = 'the revision never published';
  let verifiedAt = 0;
  const ok = await pollUntil(
    async () => {
      if (publishedAt === null && (await cluster.revision()) === sha) publishedAt = performance.now();
      if (publishedAt === null) return false;
      const { applied, synced } = await cluster.synced();
      lastSeen = `${synced} of ${hosts} Synced in the store (applied revision ${applied ?? 'none'})`;
      if (synced < hosts) dipped = true;
      if (applied !== sha || synced < hosts) return false;
      const countedAt = performance.now();
      // The count can still hold hosts Synced on the previous revision: confirm each host's revision, at
      // once when the count was seen to drop since the publish, else at most every VERIFY_EVERY_MS (a
      // full host list is heavy on the leader at 10,000 hosts).
      if (!dipped && countedAt - verifiedAt < VERIFY_EVERY_MS) return false;
      verifiedAt = countedAt;
      const rows = await allHosts(leader);
      if (rows.length < hosts || !rows.every((h) => h.syncState === 'Synced' && h.revision === sha))
        return false;
      at = countedAt;
      return true;
    },
    PHASE_TIMEOUT_MS,
    20,
  );
  await hook;
  return {
    totalMs: ok && at !== null ? round((at as number) - t0, 0) : null,
    publishedMs: publishedAt === null ? null : round((publishedAt as number) - t0, 0),
    lastSeen,
  };
}

interface ConfigResult {
  replicas: number;
  hosts: number;
  agentsHeldPerReplica: number[];
  commitToSynced: {
    runsMs: Array<number | null>;
    medianMs: number | null;
    goalMs: number | null;
    goalMet: boolean | null;
    /** Median of commit + webhook -> the leader published the revision (the rest is sending and reports). */
    publishedMedianMs: number | null;
    note?: string;
  };
  /**
   * CPU seconds per measured commit (over all --runs, their polling included): every replica together, the
   * simulator processes, redis-server, this process (git commits, polling). Steadier than the times on a
   * noisy machine, and where they go.
   */
  cpuSPerCommit: { replicas: number; simulator: number; redis: number; bench: number } | null;
  rssMiBPerReplica: number[];
  rssGoalMiB: number;
  rssGoalMet: boolean;
  failover: {
    leaseMovedMs: number | null;
    allAgentsReconnectedMs: number | null;
    agentsMoved: number;
  } | null;
  reconnectStorm: { allConnectedMs: number | null; connected: number; goalMs: number; goalMet: boolean };
  simulatorProcesses: number;
  loadAverageBefore: number[];
  loadAverageAfter: number[];
}

async function runConfig(n: number, hosts: number, runs: number, leaseMs: number): Promise<ConfigResult> {
  const loadBefore = loadAverage();
  work = await mkdtemp(join(tmpdir(), 'gse-bench-replicas-'));
  agentsRoot = await tmpfsDir('gse-bench-replicas-agents-');
  redis = await startBenchRedis();
  const repo = await benchRepo(join(work, 'repo'), {
    'motd.yaml': motdSpec('motd', '/etc/motd', 'revision 0\n'),
  });
  const specs = await Promise.all(
    Array.from({ length: n }, async (_, i) => ({
      id: `ctl-${i + 1}`,
      redisUrl: (redis as BenchRedis).url,
      repo: repo.dir,
      stateDir: join(work as string, `ctl-${i + 1}`),
      leaseMs,
      port: await freePort(),
    })),
  );
  // One after the other: the first one started leads.
  replicas = [];
  for (const s of specs) replicas.push(await startBenchReplica(s));
  const leaderId = await leaseHolder(redis.url);
  const leader = replicas.find((r) => r.id === leaderId);
  if (!leader) throw new Error(`no leader (lease holder ${leaderId})`);

  fleet = await startSimulator({
    count: hosts,
    agentUrl: replicas.map((r) => r.agentUrl).join(','),
    root: agentsRoot,
  });
  const f = fleet;
  let held: number[] = [];
  const connected = await pollUntil(
    async () => {
      if (f.died())
        throw new Error(
          `simulator died: ${f.children
            .flatMap((c) => c.tail())
            .slice(-10)
            .join('\n')}`,
        );
      held = await heldBy(replicas);
      return sum(held) >= hosts;
    },
    Math.max(PHASE_TIMEOUT_MS, hosts * 40),
    250,
  );
  if (!connected) throw new Error(`only ${sum(held)} of ${hosts} agents connected`);
  progress('fleet connected', { replicas: n, hosts, held });
  // The first revision Synced everywhere before measuring.
  const cluster = await watchCluster(redis.url);
  watch = cluster;
  const first = await commitToSynced(repo, leader, cluster, hosts, 1);
  // A fleet that never converged on the first revision: no runs (each would wait out the bound), noted.
  const syncNote =
    first.totalMs === null
      ? `the first revision did not converge within ${PHASE_TIMEOUT_MS} ms: ${first.lastSeen}`
      : undefined;
  if (syncNote) progress('first revision not converged', { replicas: n, hosts, syncNote });

  const runsMs: Array<number | null> = [];
  const published: number[] = [];
  const cpuNow = () => {
    const own = process.cpuUsage();
    return {
      replicas: sum(replicas.map((r) => r.proc.cpuSeconds())),
      simulator: f.cpuSeconds(),
      redis: (redis as BenchRedis).cpuSeconds(),
      bench: (own.user + own.system) / 1e6,
    };
  };
  const cpu0 = cpuNow();
  for (let i = 0; i < (syncNote ? 0 : runs); i++) {
    const t = await commitToSynced(repo, leader, cluster, hosts, i + 2);
    runsMs.push(t.totalMs);
    if (t.publishedMs !== null) published.push(t.publishedMs);
    progress('commit to Synced', { replicas: n, hosts, run: i + 1, ...t });
    if (t.totalMs === null) progress('run did not converge', { lastSeen: t.lastSeen });
  }
  const cpu1 = cpuNow();
  const perCommit = (k: keyof typeof cpu0) => round((cpu1[k] - cpu0[k]) / runs, 2);
  const cpuSPerCommit =
    runsMs.length === 0
      ? null
      : {
          replicas: perCommit('replicas'),
          simulator: perCommit('simulator'),
          redis: perCommit('redis'),
          bench: perCommit('bench'),
        };
  const rss = replicas.map((r) => r.rssMiB());
  const done = runsMs.filter((m): m is number => m !== null);
  const med = done.length === runs ? round(median(done), 0) : null;
  const goal = syncGoalMs(hosts);

  let failover: ConfigResult['failover'] = null;
  if (n >= 2) {
    const moved = held[replicas.indexOf(leader)] ?? 0;
    const t0 = performance.now();
    await leader.kill();
    const survivors = replicas.filter((r) => r !== leader);
    let leaseAt: number | null = null;
    let allAt: number | null = null;
    await pollUntil(
      async () => {
        if (leaseAt === null) {
          const h = await cluster.leader().catch(() => undefined);
          if (h !== undefined && h !== leader.id) leaseAt = performance.now();
        }
        if (allAt === null && sum(await heldBy(survivors)) >= hosts) allAt = performance.now();
        return leaseAt !== null && allAt !== null;
      },
      PHASE_TIMEOUT_MS,
      20,
    );
    failover = {
      leaseMovedMs: leaseAt === null ? null : round((leaseAt as number) - t0, 0),
      allAgentsReconnectedMs: allAt === null ? null : round((allAt as number) - t0, 0),
      agentsMoved: moved,
    };
    progress('failover', { replicas: n, hosts, ...failover });
  }

  // Reconnect storm: every replica down, then all started at once on the same ports and state dirs.
  await Promise.all(replicas.map((r) => r.stop()));
  replicas = await Promise.all(specs.map((s) => startBenchReplica(s)));
  const t0 = performance.now();
  let back: number[] = [];
  const stormOk = await pollUntil(
    async () => {
      back = await heldBy(replicas);
      return sum(back) >= hosts;
    },
    PHASE_TIMEOUT_MS,
    50,
  );
  const stormMs = round(performance.now() - t0, 0);
  const reconnectStorm = {
    allConnectedMs: stormOk ? stormMs : null,
    connected: sum(back),
    goalMs: GOALS.stormMs,
    goalMet: stormOk && stormMs <= GOALS.stormMs,
  };
  progress('reconnect storm', { replicas: n, hosts, ...reconnectStorm });

  const result: ConfigResult = {
    replicas: n,
    hosts,
    agentsHeldPerReplica: held,
    commitToSynced: {
      runsMs,
      medianMs: med,
      goalMs: goal,
      goalMet: goal === null || med === null ? null : med <= goal,
      publishedMedianMs: published.length > 0 ? round(median(published), 0) : null,
      ...(syncNote ? { note: syncNote } : {}),
    },
    cpuSPerCommit,
    rssMiBPerReplica: rss,
    rssGoalMiB: GOALS.rssMiB,
    rssGoalMet: rss.every((r) => r < GOALS.rssMiB),
    failover,
    reconnectStorm,
    simulatorProcesses: f.children.length,
    loadAverageBefore: loadBefore,
    loadAverageAfter: loadAverage(),
  };
  await teardown();
  return result;
}

async function teardown(): Promise<void> {
  watch?.close();
  watch = undefined;
  await fleet?.stop().catch(() => undefined);
  fleet = undefined;
  await Promise.all(replicas.map((r) => r.stop().catch(() => undefined)));
  replicas = [];
  await redis?.stop().catch(() => undefined);
  redis = undefined;
  await removeDir(agentsRoot);
  await removeDir(work);
  agentsRoot = undefined;
  work = undefined;
}

async function main(): Promise<void> {
  // Before the fleet starts, while this process is small (its size is part of spawnTrueMs).
  const machine = probeMachine();
  const hostCounts = listArg('hosts', [1_000, 10_000]);
  const replicaCounts = listArg('replicas', [1, 2, 3]);
  const runs = Math.max(1, intArg('runs', 3));
  const leaseMs = intArg('lease-ms', 2_000);
  if (await ensureOpenFileLimit(65_536)) return;
  const startedAt = performance.now();
  const loadStart = loadAverage();
  const configs: ConfigResult[] = [];
  for (const hosts of hostCounts)
    for (const n of replicaCounts) {
      progress('configuration', { replicas: n, hosts });
      configs.push(await runConfig(n, hosts, runs, leaseMs));
    }
  // Ratios to the one-replica figure at the same host count, measured in this run (the floor).
  const ratios = configs.map((c) => {
    const floor = configs.find((f) => f.hosts === c.hosts && f.replicas === 1)?.commitToSynced.medianMs;
    const m = c.commitToSynced.medianMs;
    return {
      replicas: c.replicas,
      hosts: c.hosts,
      commitToSyncedVsOneReplica: floor && m !== null ? round(m / floor, 2) : null,
    };
  });
  console.log(
    JSON.stringify({
      bench: 'replicas',
      hosts: hostCounts,
      replicas: replicaCounts,
      runs,
      leaseMs,
      goals: {
        commitToSynced: '1,000 hosts < 700 ms; 10,000 hosts < 4,000 ms (from git commit + webhook)',
        reconnectStorm: `all agents back < ${GOALS.stormMs} ms after a restart`,
        rss: `< ${GOALS.rssMiB} MiB per controller`,
      },
      measuredFrom: {
        commitToSynced:
          'git commit + POST /api/v1/hooks/git to the leader -> every host Synced on the commit in the shared store',
        failover:
          'SIGKILL of the leader -> another replica holds gse:cluster:lease; -> survivors hold every agent',
        reconnectStorm:
          'every replica SIGTERMed, then all started at once: all answering /healthz -> every agent held',
      },
      note:
        'One 2-core machine runs everything: redis-server, the replicas, and the simulator processes holding the ' +
        'agents share the same cores, so more replicas add processes competing for the same CPU; failover and ' +
        'storm are measured once per configuration, commit-to-Synced --runs times (median).',
      configs,
      ratios,
      totalSeconds: round((performance.now() - startedAt) / 1000, 1),
      loadAverage: { start: loadStart, end: loadAverage() },
      machine,
      node: process.version,
    }),
  );
}

runBench(main, teardown);
