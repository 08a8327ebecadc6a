/**
 * `npm run bench -- fleet --count N [--heartbeat-ms 2000] [--cpu-window-ms 10000] [--changes 3] [--per-process M]`
 *
 * A real controller in this process (SQLite store, on a temp git repo holding one ConfigFile that selects
 * every host with inline content) and N simulated agents in a child process
 * (`node dist/agent/main.js simulate`, agent roots on tmpfs). Measures:
 *  - the time for all N to connect (polls `hub.connectedCount`, O(1); `hub.sessions()` is called once at
 *    the end: hubSessionsLength, hubSessionsCallMs; it sorts only when sessions came or went), handshakes
 *    turned away (503, maxHandshakes),
 *    and for all N to be Synced on the first revision;
 *  - controller RSS before the fleet and with it connected (after a forced GC), per agent;
 *  - controller CPU (`process.cpuUsage()`) over a quiet window with all connected, per heartbeat frame;
 *  - for each of `--changes` commits: from `source.fetchNow()` and from the moment the accepted revision
 *    enters `reconciler.setRevision`, to every host Synced on it (in-memory `reconciler.hostStates()`).
 * The controller does not watch the repo's refs (watchLocal: false) and polls once a minute, so only
 * fetchNow delivers a commit. Prints one JSON object as its last line.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type BenchController, startBenchController } from './_lib/controller.js';
import { type SimFleet, startSimulator } from './_lib/fleet-sim.js';
import {
  benchRepo,
  ensureOpenFileLimit,
  gc,
  intArg,
  loadAverage,
  median,
  motdSpec,
  openFileLimit,
  pollUntil,
  progress,
  removeDir,
  round,
  runBench,
  sleep,
  tmpfsDir,
} from './_lib/util.js';

const MOTD = (v: number) => motdSpec('motd', '/etc/motd', `managed by gse-gitops, version ${v}\n`);
/** Each converge round fails (and the bench reports it) beyond this. */
const CONVERGE_TIMEOUT_MS = 60_000;
/** Issue 12's goal: commit -> 10,000 hosts Synced from the revision entering the reconciler. */
const GOAL_10K_FROM_SET_REVISION_MS = 4_000;
/** The whole bench must stop by itself; keep the connect phase within this. */
const MAX_CONNECT_MS = 200_000;

let work: string | undefined;
let agentsRoot: string | undefined;
let ctl: BenchController | undefined;
let fleet: SimFleet | undefined;

async function main(): Promise<void> {
  const count = intArg('count', 1000);
  const heartbeatMs = intArg('heartbeat-ms', 2000);
  const cpuWindowMs = intArg('cpu-window-ms', 10_000);
  const changes = intArg('changes', 3);
  const perProcess = intArg('per-process', Number.MAX_SAFE_INTEGER);
  if (count < 1) throw new Error('--count must be >= 1');
  if (await ensureOpenFileLimit(65_536)) return;
  const limits = openFileLimit();
  const startedAt = performance.now();

  work = await mkdtemp(join(tmpdir(), 'gse-bench-fleet-'));
  agentsRoot = await tmpfsDir('gse-bench-fleet-agents-');
  const repo = await benchRepo(join(work, 'repo'), { 'motd.yaml': MOTD(0) });
  ctl = await startBenchController(repo.dir, join(work, 'state'), {
    heartbeatMs,
    watchLocal: false,
    fetchIntervalMs: 60_000,
  });
  const c = ctl;
  const first = await c.controller.source.fetchNow();
  if (!first) throw new Error('no first revision');
  await pollUntil(() => c.controller.reconciler.current?.id === first.sha, 30_000, 10);
  progress('controller up', { url: c.url, revision: first.sha.slice(0, 12) });

  await sleep(500);
  gc();
  const rssBefore = process.memoryUsage();

  // --- connect ---
  fleet = await startSimulator({ count, agentUrl: c.agentUrl, root: agentsRoot, perProcess });
  const t0 = performance.now();
  const connectCpu0 = process.cpuUsage();
  const f = fleet;
  const marks: Record<string, number> = {};
  const connectLimit = Math.min(MAX_CONNECT_MS, 30_000 + count * 20);
  let lastLog = 0;
  const allConnected = await pollUntil(
    () => {
      const n = c.controller.hub.connectedCount;
      const ms = performance.now() - t0;
      for (const pct of [10, 50, 90]) {
        const key = `p${pct}`;
        if (marks[key] === undefined && n >= (count * pct) / 100) marks[key] = round(ms, 0);
      }
      if (ms - lastLog > 5_000) {
        lastLog = ms;
        progress('connecting', { connected: n, of: count, seconds: round(ms / 1000, 1) });
      }
      return n >= count || f.died();
    },
    connectLimit,
    20,
  );
  const connectMs = performance.now() - t0;
  const connectCpu = process.cpuUsage(connectCpu0);
  const connectSimCpu = f.cpuSeconds();
  const connected = c.controller.hub.connectedCount;
  if (f.died())
    progress('simulator exited early', { tail: f.children.flatMap((ch) => ch.tail()).slice(-10) });
  progress('connect phase done', { connected, of: count, seconds: round(connectMs / 1000, 2) });

  const firstSynced = await c.waitSynced(first.sha, connected, CONVERGE_TIMEOUT_MS, 20);
  const initialSyncMs = performance.now() - t0;
  progress('initial manifest converged', { ok: firstSynced, synced: c.syncedCount(first.sha) });

  // --- memory ---
  await sleep(2_000);
  gc();
  const rssAfter = process.memoryUsage();
  const sessionsLen = timed(() => c.controller.hub.sessions().length);

  // --- heartbeat CPU over a quiet window ---
  const framesBefore = c.controller.hub.stats().framesIn;
  const cpuBefore = process.cpuUsage();
  const simCpuBefore = f.cpuSeconds();
  const wallBefore = performance.now();
  await sleep(cpuWindowMs);
  const cpu = process.cpuUsage(cpuBefore);
  const wall = performance.now() - wallBefore;
  const simCpu = f.cpuSeconds() - simCpuBefore;
  const frames = c.controller.hub.stats().framesIn - framesBefore;
  const cpuUs = cpu.user + cpu.system;
  const expectedHeartbeats = (connected * wall) / heartbeatMs;
  progress('cpu window done', { frames, cpuMs: round(cpuUs / 1000, 1) });

  // --- manifest changes ---
  const rounds: ConvergeRound[] = [];
  const failures: string[] = [];
  for (let k = 1; k <= changes; k++) {
    const sha = await repo.commit({ 'motd.yaml': MOTD(k) }, `change ${k}`);
    const cpu0 = process.cpuUsage();
    const sim0 = f.cpuSeconds();
    const sends0 = c.manifestSends.count;
    const tFetch = performance.now();
    const fetched = c.controller.source.fetchNow();
    const progressAt: Record<string, number> = {};
    const synced = await pollUntil(
      () => {
        const n = c.syncedCount(sha);
        for (const pct of [10, 50, 90]) {
          if (progressAt[`p${pct}`] === undefined && n >= (connected * pct) / 100)
            progressAt[`p${pct}`] = performance.now();
        }
        return n >= connected;
      },
      CONVERGE_TIMEOUT_MS,
      Math.max(2, Math.ceil(count / 1000)),
    );
    const tDone = performance.now();
    const cpuRound = process.cpuUsage(cpu0);
    const simRound = f.cpuSeconds() - sim0;
    const fetchResolved = await fetched;
    const tSet = c.setRevisionAt.get(sha);
    if (!synced || tSet === undefined || fetchResolved?.sha !== sha) {
      failures.push(`change ${k}: synced ${c.syncedCount(sha)}/${connected}`);
      progress('change not converged', { k, synced: c.syncedCount(sha) });
      continue;
    }
    const tSetDone = c.setRevisionDoneAt.get(sha) ?? Number.NaN;
    const sends = c.manifestSends.count - sends0;
    rounds.push({
      sha: sha.slice(0, 12),
      fromFetchNowMs: round(tDone - tFetch, 1),
      fromSetRevisionMs: round(tDone - tSet, 1),
      fetchMs: round(tSet - tFetch, 1),
      setRevisionMs: round(tSetDone - tSet, 1),
      manifestsSent: sends,
      lastManifestSentMs: round(c.manifestSends.lastAt - tSet, 1),
      syncedFromSetRevisionMs: Object.fromEntries(
        Object.entries(progressAt).map(([k, v]) => [k, round(Math.max(0, v - tSet), 1)]),
      ),
      controllerCpuMs: round((cpuRound.user + cpuRound.system) / 1000, 1),
      simulatorCpuMs: round(simRound * 1000, 0),
    });
    progress('change converged', { ...rounds[rounds.length - 1] });
    await sleep(1_000);
  }

  const hubStats = c.controller.hub.stats();
  const simRss = f.rssMiB();
  const rssDelta = rssAfter.rss - rssBefore.rss;
  const fromSet = median(rounds.map((r) => r.fromSetRevisionMs));
  const result = {
    bench: 'fleet',
    count,
    connected,
    hubSessionsLength: sessionsLen.value,
    simulatorProcesses: f.children.length,
    agentsPerSimulatorProcess: f.counts,
    heartbeatMs,
    openFileLimit: limits,
    connect: {
      allConnected: allConnected && connected >= count,
      seconds: round(connectMs / 1000, 2),
      secondsTo: Object.fromEntries(Object.entries(marks).map(([k, v]) => [k, round(v / 1000, 2)])),
      agentsPerSecond: round(connected / (connectMs / 1000), 0),
      controllerCpuSeconds: round((connectCpu.user + connectCpu.system) / 1e6, 2),
      simulatorCpuSeconds: round(connectSimCpu, 2),
      initialSyncedSeconds: round(initialSyncMs / 1000, 2),
      initialSynced: firstSynced,
      handshakesRejected: c.controller.hub.stats().handshakesRejected,
      goal: '10,000 agents connect < 8 s (issue 12: after a controller restart; this bench measures first enrollment)',
      goalSeconds: 8,
      goalMet: count === 10_000 ? allConnected && connectMs < 8_000 : null,
    },
    memory: {
      gcForced: typeof (globalThis as { gc?: unknown }).gc === 'function',
      controllerRssBeforeMiB: round(rssBefore.rss / 2 ** 20, 1),
      controllerRssAfterMiB: round(rssAfter.rss / 2 ** 20, 1),
      heapUsedBeforeMiB: round(rssBefore.heapUsed / 2 ** 20, 1),
      heapUsedAfterMiB: round(rssAfter.heapUsed / 2 ** 20, 1),
      rssPerAgentKiB: round(rssDelta / 1024 / connected, 1),
      heapPerAgentKiB: round((rssAfter.heapUsed - rssBefore.heapUsed) / 1024 / connected, 1),
      projectedRssAt10kMiB: round((rssBefore.rss + (rssDelta / connected) * 10_000) / 2 ** 20, 0),
      simulatorRssMiB: simRss,
      controllerRssAfterGiB: round(rssAfter.rss / 2 ** 30, 3),
      goal: 'controller RSS with 10,000 agents < 0.5 GiB (issue 12)',
      goalGiB: 0.5,
      goalMet: connected >= 10_000 ? rssAfter.rss < 2 ** 29 : null,
    },
    heartbeat: {
      windowSeconds: round(wall / 1000, 2),
      framesIn: frames,
      expectedHeartbeats: round(expectedHeartbeats, 0),
      controllerCpuMs: round(cpuUs / 1000, 1),
      controllerCpuPercentOfOneCore: round((cpuUs / 1000 / wall) * 100, 1),
      cpuUsPerFrame: round(cpuUs / Math.max(1, frames), 1),
      cpuUsPerAgentPerHeartbeat: round(cpuUs / Math.max(1, expectedHeartbeats), 1),
      simulatorCpuPercentOfOneCore: round(((simCpu * 1000) / wall) * 100, 1),
      hubSessionsCallMs: round(sessionsLen.ms, 2),
    },
    converge: {
      measuredFrom:
        'fromSetRevisionMs: accepted revision entering reconciler.setRevision -> all hosts Synced; fromFetchNowMs: source.fetchNow() call (after git commit) -> all Synced',
      rounds,
      medianFromSetRevisionMs: fromSet,
      medianFromFetchNowMs: median(rounds.map((r) => r.fromFetchNowMs)),
      medianFetchAndLoadMs: median(rounds.map((r) => r.fetchMs)),
      goal: 'commit -> 10,000 hosts Synced, from the revision entering the reconciler, < 4 s (issue 12)',
      goalMs: GOAL_10K_FROM_SET_REVISION_MS,
      goalMet: count === 10_000 && rounds.length > 0 ? fromSet < GOAL_10K_FROM_SET_REVISION_MS : null,
      ratioToGoal: round(fromSet / GOAL_10K_FROM_SET_REVISION_MS, 3),
      failures,
    },
    hub: {
      framesIn: hubStats.framesIn,
      authFailures: hubStats.authFailures,
      handlerErrors: hubStats.handlerErrors,
      sessionsReplaced: hubStats.sessionsReplaced,
    },
    totalSeconds: round((performance.now() - startedAt) / 1000, 1),
    loadAverage: loadAverage(),
    node: process.version,
  };
  console.log(JSON.stringify(result));
}

interface ConvergeRound {
  sha: string;
  fromFetchNowMs: number;
  fromSetRevisionMs: number;
  fetchMs: number;
  /** setRevision itself: plan every host, send, persist every host. */
  setRevisionMs: number;
  manifestsSent: number;
  /** From setRevision entry to the last manifest handed to hub.send. */
  lastManifestSentMs: number;
  syncedFromSetRevisionMs: Record<string, number>;
  controllerCpuMs: number;
  simulatorCpuMs: number;
}

function timed<T>(fn: () => T): { value: T; ms: number } {
  const t = performance.now();
  const value = fn();
  return { value, ms: performance.now() - t };
}

runBench(main, async () => {
  await fleet?.stop().catch(() => undefined);
  await ctl?.stop().catch((err: unknown) => progress('controller stop failed', { error: String(err) }));
  await removeDir(agentsRoot);
  await removeDir(work);
});
