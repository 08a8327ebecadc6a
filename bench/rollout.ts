/**
 * `npm run bench -- rollout [--count 1000] [--batch 10%] [--upgrade-delay-ms 50] [--runs 3] [--skip-real]`
 *
 * A real controller in this process (SQLite store, plain HTTP) on a temp git repo holding one AgentVersion.
 *  (a) `--count` simulated agents (`gse-agent simulate` child processes; a simulated upgrade waits
 *      `--upgrade-delay-ms` for download + restart, then the instance reconnects saying it runs the new
 *      version) go through a version change in batches of `--batch`: total time from the commit reaching the
 *      reconciler to the rollout Completed, the time of each batch (reached -> next reached), controller CPU
 *      (`process.cpuUsage()` of this process, which is the controller) over it, and the simulated delay per
 *      batch reported apart (`simulatedDelayMs`, and the total without it).
 *  (b) one real agent installed from a package built by `gsectl artifact build` and run by `gse-agent launch`:
 *      for each of `--runs` version changes, from the manifest carrying the new version being handed to the
 *      hub ("batch reached") to the controller's session holding the new version ("new version reported").
 *      The package is served over local HTTP. Goal: median under 3 s.
 * Prints one JSON object as its last line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AGENT_VERSION } from '../agent/facts.js';
import { installArtifact } from '../agent/upgrade/install.js';
import { type BuiltArtifact, buildArtifact } from '../src/cli/commands/artifact.js';
import { type BenchController, startBenchController } from './_lib/controller.js';
import { type SimFleet, startSimulator } from './_lib/fleet-sim.js';
import {
  argValue,
  BENCH_BOOTSTRAP_TOKEN,
  benchRepo,
  ensureOpenFileLimit,
  intArg,
  loadAverage,
  median,
  pollUntil,
  progress,
  REPO_ROOT,
  removeDir,
  round,
  runBench,
  tmpfsDir,
} from './_lib/util.js';

const FAKE_SHA = 'b'.repeat(64);
const PHASE_TIMEOUT_MS = 240_000;
const REAL_TIMEOUT_MS = 60_000;

let work: string | undefined;
let agentsRoot: string | undefined;
let ctl: BenchController | undefined;
let fleet: SimFleet | undefined;
let launcher: ChildProcess | undefined;
let server: Server | undefined;

function agentVersionYaml(version: string, url: string, sha256: string, batchSize: string | number): string {
  const spec = {
    version,
    artifact: { url, sha256 },
    hosts: { names: ['*'] },
    rollout: { batchSize, maxUnavailable: batchSize, maxFailures: 0, healthDeadline: '30s' },
  };
  return `apiVersion: gse/v1\nkind: AgentVersion\nmetadata: {"name": "agents"}\nspec: ${JSON.stringify(spec)}\n`;
}

async function simulated(
  count: number,
  batch: string | number,
  delayMs: number,
): Promise<Record<string, unknown>> {
  work = await mkdtemp(join(tmpdir(), 'gse-bench-rollout-'));
  agentsRoot = await tmpfsDir('gse-bench-rollout-agents-');
  const repo = await benchRepo(join(work, 'repo'), {
    'agents.yaml': agentVersionYaml(AGENT_VERSION, 'http://127.0.0.1:9/x.tgz', FAKE_SHA, batch),
  });
  const c = await startBenchController(repo.dir, join(work, 'state'), { watchLocal: false });
  ctl = c;
  fleet = await startSimulator({ count, agentUrl: c.agentUrl, root: agentsRoot, delayMs });
  const connected = await pollUntil(() => c.controller.hub.connectedCount >= count, PHASE_TIMEOUT_MS, 50);
  if (!connected) throw new Error(`only ${c.controller.hub.connectedCount}/${count} agents connected`);
  progress('simulated fleet connected', { count });
  const target = '99.0.0';
  const sha = await repo.commit(
    { 'agents.yaml': agentVersionYaml(target, 'http://127.0.0.1:9/y.tgz', FAKE_SHA, batch) },
    target,
  );
  const cpu0 = process.cpuUsage();
  const fleetCpu0 = fleet.cpuSeconds();
  await c.controller.source.fetchNow();
  const ok = await pollUntil(() => c.setRevisionAt.has(sha), PHASE_TIMEOUT_MS, 2);
  if (!ok) throw new Error('the commit never reached the reconciler');
  const t0 = c.setRevisionAt.get(sha) as number;
  const reachedAt: number[] = [];
  const done = await pollUntil(
    () => {
      const r = c.controller.rollouts.get('agents');
      if (!r || r.version !== target) return false;
      while (reachedAt.length < r.reached) reachedAt.push(performance.now());
      if (r.phase === 'Paused') throw new Error(`rollout paused: ${r.pauseReason}`);
      return r.phase === 'Completed';
    },
    PHASE_TIMEOUT_MS,
    5,
  );
  const end = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const r = c.controller.rollouts.get('agents');
  if (!done || !r)
    throw new Error(`rollout not completed: ${JSON.stringify(r && { phase: r.phase, reached: r.reached })}`);
  const marks = [t0, ...reachedAt.slice(1), end];
  const batchMs = marks.slice(1).map((m, i) => round(m - (marks[i] as number), 1));
  const totalMs = end - t0;
  const simulatedDelayMs = delayMs * batchMs.length;
  const result = {
    count,
    batchSize: r.batchSize,
    batches: batchMs.length,
    totalMs: round(totalMs, 1),
    batchMs,
    medianBatchMs: round(median(batchMs), 1),
    simulatedUpgradeDelayMs: delayMs,
    simulatedDelayMs,
    totalWithoutSimulatedDelayMs: round(totalMs - simulatedDelayMs, 1),
    controllerCpuSeconds: round((cpu.user + cpu.system) / 1e6, 3),
    controllerCpuPercentOfOneCore: round(((cpu.user + cpu.system) / 1e3 / totalMs) * 100, 1),
    simulatorCpuSeconds: round(fleet.cpuSeconds() - fleetCpu0, 3),
  };
  await fleet.stop();
  fleet = undefined;
  await c.stop();
  ctl = undefined;
  return result;
}

async function serve(dir: string): Promise<string> {
  const s = createServer((req, res) => {
    const file = join(dir, basename(req.url ?? '/'));
    stat(file).then(
      (st) => {
        res.writeHead(200, { 'content-length': st.size });
        createReadStream(file).pipe(res);
      },
      () => res.writeHead(404).end(),
    );
  });
  server = s;
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

async function realAgent(runs: number): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'gse-bench-rollout-real-'));
  work = dir;
  const versions = Array.from({ length: runs + 1 }, (_, i) => `2.0.${i}`);
  const built: BuiltArtifact[] = [];
  for (const v of versions)
    built.push(await buildArtifact({ version: v, outDir: join(dir, 'artifacts'), repoRoot: REPO_ROOT }));
  const base = await serve(join(dir, 'artifacts'));
  const yaml = (a: BuiltArtifact) => agentVersionYaml(a.version, `${base}/${basename(a.path)}`, a.sha256, 1);
  const first = built[0] as BuiltArtifact;
  const repo = await benchRepo(join(dir, 'repo'), { 'agents.yaml': yaml(first) });
  const c = await startBenchController(repo.dir, join(dir, 'state'), { watchLocal: false });
  ctl = c;
  const installDir = join(dir, 'install');
  await installArtifact({ artifact: first.path, installDir });
  const root = join(dir, 'root');
  launcher = spawn(
    join(installDir, 'launcher/bin/gse-agent'),
    [
      'launch',
      '--install-dir',
      installDir,
      '--log-level',
      'warn',
      '--',
      '--controller',
      c.agentUrl,
      '--insecure',
      '--token',
      BENCH_BOOTSTRAP_TOKEN,
      '--name',
      'real-1',
      '--root',
      root,
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const running = (v: string) => c.controller.hub.session('real-1')?.facts.agentVersion === v;
  if (!(await pollUntil(() => running(first.version), REAL_TIMEOUT_MS, 20)))
    throw new Error('the real agent never connected');
  const samples: number[] = [];
  for (const a of built.slice(1)) {
    const sends = c.manifestSends.count;
    const sha = await repo.commit({ 'agents.yaml': yaml(a) }, a.version);
    await c.controller.source.fetchNow();
    if (
      !(await pollUntil(
        () => c.setRevisionDoneAt.has(sha) && c.manifestSends.count > sends,
        REAL_TIMEOUT_MS,
        1,
      ))
    )
      throw new Error(`no manifest sent for ${a.version}`);
    const reached = c.manifestSends.lastAt;
    if (!(await pollUntil(() => running(a.version), REAL_TIMEOUT_MS, 5)))
      throw new Error(`the real agent never reported ${a.version}`);
    samples.push(performance.now() - reached);
    progress('real agent upgraded', { to: a.version, ms: round(samples.at(-1) as number, 1) });
  }
  launcher.kill('SIGTERM');
  await new Promise((r) => launcher?.once('exit', r));
  launcher = undefined;
  await c.stop();
  ctl = undefined;
  return {
    runs: samples.length,
    batchReachedToNewVersionMs: samples.map((s) => round(s, 1)),
    medianMs: round(median(samples), 1),
    goalMs: 3000,
    underGoal: median(samples) < 3000,
  };
}

async function main(): Promise<void> {
  const count = intArg('count', 1000);
  const batch = argValue('batch', '10%') as string;
  const delayMs = intArg('upgrade-delay-ms', 50);
  const runs = intArg('runs', 3);
  if (await ensureOpenFileLimit(65_536)) return;
  const load0 = loadAverage();
  const sim = await simulated(count, /^\d+$/.test(batch) ? Number(batch) : batch, delayMs);
  await removeDir(work);
  await removeDir(agentsRoot);
  const real = process.argv.includes('--skip-real') ? undefined : await realAgent(runs);
  console.log(
    JSON.stringify({ bench: 'rollout', simulated: sim, realAgent: real ?? null, loadAverage: load0 }),
  );
}

runBench(main, async () => {
  launcher?.kill('SIGKILL');
  await fleet?.stop();
  await ctl?.stop();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  await removeDir(work);
  await removeDir(agentsRoot);
});
