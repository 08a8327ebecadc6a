/**
 * `npm run bench -- converge [--counts 100,1000] [--commits 5] [--poll-ms 2000] [--modes webhook,polling]
 *   [--per-process N]` (simulated agents per simulate process; default: as many as the open-file limit allows)
 *
 * Commit -> every host Synced, through a real controller in this process (SQLite store, on a temp git repo
 * holding one ConfigFile that selects every host) and N simulated agents in child processes
 * (`node dist/agent/main.js simulate`, roots on tmpfs). For each N, two controllers and fleets in turn:
 *  - webhook: no ref watch (watchLocal: false), poll once a minute; after `git commit` exits, POST
 *    /api/v1/hooks/git; timed from the POST (and from the start of `git commit`) to all N Synced;
 *  - polling: no webhook, no ref watch, `fetchIntervalMs` = --poll-ms; timed from `git commit` exiting.
 * Each commit changes the ConfigFile's content. Medians over --commits commits (after one warm-up commit).
 * Prints one JSON object as its last line.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type BenchController, startBenchController } from './_lib/controller.js';
import { type SimFleet, startSimulator } from './_lib/fleet-sim.js';
import { probeMachine } from './_lib/machine.js';
import {
  argValue,
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
  sleep,
  tmpfsDir,
} from './_lib/util.js';

const MOTD = (v: number) => motdSpec('motd', '/etc/motd', `managed by gse-gitops, commit ${v}\n`);
const ROUND_TIMEOUT_MS = 60_000;
/** Issue 12's goal: commit + webhook -> 1,000 hosts Synced. */
const GOAL_MS = 700;

type Mode = 'webhook' | 'polling';

interface Sample {
  /** From the webhook POST (webhook) or from `git commit` exiting (polling) to all Synced. */
  ms: number;
  /** From the start of `git commit` to all Synced. */
  fromCommitStartMs: number;
  /** From the trigger to the accepted revision entering reconciler.setRevision. */
  toSetRevisionMs: number;
  /** From setRevision entry to all Synced. */
  fromSetRevisionMs: number;
  /** CPU seconds (user + system) the simulator processes used from the commit's start to all Synced. */
  simulatorCpuS: number;
  /** CPU seconds this process (the controller, plus the bench's polling) used over the same span. */
  controllerCpuS: number;
  /** Webhook only: until the controller answered the POST (it answers once the revision is handed out). */
  webhookAnsweredMs?: number;
}

const cleanups: Array<() => Promise<void>> = [];

async function runMode(
  count: number,
  mode: Mode,
  commits: number,
  pollMs: number,
  perProcess: number | undefined,
) {
  const work = await mkdtemp(join(tmpdir(), `gse-bench-converge-${mode}-`));
  const agentsRoot = await tmpfsDir('gse-bench-converge-agents-');
  let ctl: BenchController | undefined;
  let fleet: SimFleet | undefined;
  const cleanup = async () => {
    await fleet?.stop().catch(() => undefined);
    await ctl?.stop().catch(() => undefined);
    await removeDir(agentsRoot);
    await removeDir(work);
  };
  cleanups.push(cleanup);
  try {
    const repo = await benchRepo(join(work, 'repo'), { 'motd.yaml': MOTD(0) });
    ctl = await startBenchController(repo.dir, join(work, 'state'), {
      watchLocal: false,
      fetchIntervalMs: mode === 'polling' ? pollMs : 60_000,
      heartbeatMs: 10_000,
    });
    const c = ctl;
    const first = await c.controller.source.fetchNow();
    if (!first) throw new Error('no first revision');
    await pollUntil(() => c.controller.reconciler.current?.id === first.sha, 30_000, 10);

    fleet = await startSimulator({
      count,
      agentUrl: c.agentUrl,
      root: agentsRoot,
      ...(perProcess !== undefined ? { perProcess } : {}),
    });
    const f = fleet;
    const t0 = performance.now();
    const up = await pollUntil(
      () => c.controller.hub.connectedCount >= count || f.died(),
      Math.min(200_000, 30_000 + count * 20),
      20,
    );
    const connected = c.controller.hub.connectedCount;
    if (!up || connected < count) throw new Error(`only ${connected}/${count} agents connected`);
    if (!(await c.waitSynced(first.sha, count, ROUND_TIMEOUT_MS, 20)))
      throw new Error('the first revision did not converge');
    progress(`${mode} ${count}: fleet up`, { seconds: round((performance.now() - t0) / 1000, 1) });
    await sleep(1_000);

    const samples: Sample[] = [];
    const failures: string[] = [];
    let simCpuAfterWarmup = 0;
    for (let k = 1; k <= commits + 1; k++) {
      const warmup = k === 1;
      const tCommitStart = performance.now();
      const simCpu0 = f.cpuSeconds();
      if (k === 2) simCpuAfterWarmup = simCpu0;
      const ctlCpu0 = process.cpuUsage();
      const sha = await repo.commit({ 'motd.yaml': MOTD(k) }, `commit ${k}`);
      const tCommitted = performance.now();
      let answered: Promise<number> | undefined;
      const tTrigger = performance.now();
      if (mode === 'webhook') {
        answered = c.webhook().then((r) => {
          if (r.status !== 200) throw new Error(`webhook answered ${r.status}: ${JSON.stringify(r.body)}`);
          return performance.now() - tTrigger;
        });
      }
      const ok = await c.waitSynced(sha, count, ROUND_TIMEOUT_MS, Math.max(2, Math.ceil(count / 1000)));
      const tDone = performance.now();
      const simulatorCpuS = f.cpuSeconds() - simCpu0;
      const ctlCpu = process.cpuUsage(ctlCpu0);
      const webhookAnsweredMs = answered ? await answered : undefined;
      const tSet = c.setRevisionAt.get(sha);
      if (!ok || tSet === undefined) {
        failures.push(`commit ${k}: ${c.syncedCount(sha)}/${count} Synced after ${ROUND_TIMEOUT_MS} ms`);
        continue;
      }
      const from = mode === 'webhook' ? tTrigger : tCommitted;
      const sample: Sample = {
        ms: round(tDone - from, 1),
        fromCommitStartMs: round(tDone - tCommitStart, 1),
        toSetRevisionMs: round(tSet - from, 1),
        fromSetRevisionMs: round(tDone - tSet, 1),
        simulatorCpuS: round(simulatorCpuS, 2),
        controllerCpuS: round((ctlCpu.user + ctlCpu.system) / 1e6, 2),
        ...(webhookAnsweredMs !== undefined ? { webhookAnsweredMs: round(webhookAnsweredMs, 1) } : {}),
      };
      progress(`${mode} ${count}: commit ${k}${warmup ? ' (warm-up)' : ''}`, { ...sample });
      if (!warmup) samples.push(sample);
      await sleep(1_000);
    }
    const med = (key: keyof Sample) => {
      const values = samples.map((s) => s[key]).filter((v): v is number => typeof v === 'number');
      return values.length > 0 ? round(median(values), key.endsWith('CpuS') ? 2 : 1) : null;
    };
    return {
      mode,
      count,
      simulatorProcesses: f.children.length,
      commits: samples.length,
      medianMs: med('ms'),
      medianFromCommitStartMs: med('fromCommitStartMs'),
      medianToSetRevisionMs: med('toSetRevisionMs'),
      medianFromSetRevisionMs: med('fromSetRevisionMs'),
      medianSimulatorCpuS: med('simulatorCpuS'),
      medianControllerCpuS: med('controllerCpuS'),
      // Everything the agents did per commit, including work after the host reported Synced (the drift
      // watcher's re-check of its own write, acks): simulator CPU over the measured commits and their pauses.
      simulatorCpuSPerCommit: round((f.cpuSeconds() - simCpuAfterWarmup) / Math.max(1, commits), 3),
      ...(mode === 'webhook' ? { medianWebhookAnsweredMs: med('webhookAnsweredMs') } : { pollMs }),
      samplesMs: samples.map((s) => s.ms),
      failures,
    };
  } finally {
    await cleanup();
    cleanups.splice(cleanups.indexOf(cleanup), 1);
  }
}

async function main(): Promise<void> {
  // Before the fleet starts, while this process is small (its size is part of spawnTrueMs).
  const machine = probeMachine();
  const counts = listArg('counts', [100, 1000]);
  const commits = intArg('commits', 5);
  const pollMs = intArg('poll-ms', 2000);
  const perProcessArg = argValue('per-process');
  const perProcess = perProcessArg === undefined ? undefined : intArg('per-process', 0);
  const modes = (argValue('modes') ?? 'webhook,polling').split(',') as Mode[];
  for (const m of modes)
    if (m !== 'webhook' && m !== 'polling') throw new Error(`--modes: ${m} is not webhook or polling`);
  if (await ensureOpenFileLimit(65_536)) return;
  const results = [];
  for (const count of counts) {
    for (const mode of modes) {
      results.push(await runMode(count, mode, commits, pollMs, perProcess));
    }
  }
  const at1000 = results.find((r) => r.mode === 'webhook' && r.count === 1000);
  console.log(
    JSON.stringify({
      bench: 'converge',
      measuredFrom:
        'webhook: POST /api/v1/hooks/git (sent once `git commit` exited) -> all hosts Synced (in-memory reconciler state); polling: `git commit` exited -> all Synced',
      results,
      goal: {
        what: 'commit + webhook -> 1,000 hosts Synced < 0.7 s (issue 12)',
        goalMs: GOAL_MS,
        medianMs: at1000?.medianMs ?? null,
        met: at1000?.medianMs != null ? at1000.medianMs < GOAL_MS : null,
        ratioToGoal: at1000?.medianMs != null ? round(at1000.medianMs / GOAL_MS, 3) : null,
      },
      loadAverage: loadAverage(),
      machine,
      node: process.version,
    }),
  );
}

runBench(main, async () => {
  for (const c of cleanups.splice(0)) await c();
});
