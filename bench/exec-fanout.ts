/**
 * `npm run bench -- exec-fanout [--count 1000] [--runs 5] [--per-process N]`
 *
 * The whole `gsectl exec` process (`node dist/src/cli/main.js exec ... -- true`, spawn to exit) against a
 * real controller in this process (SQLite store) and `--count` simulated agents (`gse-agent simulate` in a
 * child processes), for 100 hosts (`name=sim-1??`: sim-100..sim-199) and for every host (`*`), beside a bare
 * `node -e ''` in the same run (the floor). The agents are split over simulate processes of `--per-process`
 * (default 250) agents. Every run must stream one succeeded result per host and exit 0,
 * or it counts as lost. Medians of `--runs` runs after one warm-up. Prints one JSON object as its last line.
 * Each exec series also gives the median CPU seconds per run of each component (`cpuMedianS`: the gsectl
 * process, the controller, the simulate processes, and the scripts they ran, from /proc) and the agents'
 * resident size, since a spawn forks the whole simulate process: where a run's time goes on 2 cores.
 * Two floors of the fan-out itself, in the same run: the same shells (`/bin/sh -c true`, one per host) started
 * from bare node processes laid out as the simulate processes are (`shells100`, `shells<count>`), and from
 * xargs with 2 per core (`xargsShells...`: no Node at all). Where a floor is over the goal, `floorWithinGoal`
 * says false: no agent that runs a real shell per host can meet that goal on this machine.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type BenchController, startBenchController } from './_lib/controller.js';
import { type SimFleet, startSimulator } from './_lib/fleet-sim.js';
import { probeMachine } from './_lib/machine.js';
import {
  BENCH_ADMIN_TOKEN,
  benchRepo,
  ensureOpenFileLimit,
  intArg,
  loadAverage,
  median,
  motdSpec,
  progress,
  REPO_ROOT,
  removeDir,
  round,
  runBench,
  tmpfsDir,
} from './_lib/util.js';

const GSECTL = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
/** Goals of issue #14: the whole CLI process, in seconds. */
const GOAL_100_S = 0.25;
const GOAL_1000_S = 1;
const READY_TIMEOUT_MS = 180_000;
/** Simulated agents per `gse-agent simulate` process: 1,000 hosts in 4 processes (the 100-host case in one). */
const DEFAULT_PER_PROCESS = 250;
/** Bound of one CLI run; a run that takes longer is killed and counted as lost. */
const RUN_TIMEOUT_MS = 60_000;

interface RunResult {
  seconds: number;
  ok: boolean;
  results: number;
  detail?: string;
  /** CPU seconds each component used during the run (exec runs only). */
  cpu?: CpuSplit;
}

/** CPU seconds of one run by component: where a run's time goes on a shared 2-core machine. */
interface CpuSplit {
  /** gsectl: what the children this process reaped in the run used (gsectl only, unless a git fetch ran). */
  cli: number;
  /** This process: the controller (API, exec service, store, hub), plus the bench's own small share. */
  controller: number;
  /** The simulate processes themselves (ws, ledger, spool, spawning). */
  agents: number;
  /** What the agents' scripts used (`/bin/sh -c true` and its children, reaped by the simulate processes). */
  scripts: number;
}

/** utime+stime and cutime+cstime of `pid` from /proc, in seconds. */
function procCpu(pid: number | string): { self: number; children: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      self: (Number(f[11]) + Number(f[12])) / 100,
      children: (Number(f[13]) + Number(f[14])) / 100,
    };
  } catch {
    return { self: Number.NaN, children: Number.NaN };
  }
}

/** A snapshot of every component's CPU seconds so far; `since(earlier)` gives the split of a run. */
function cpuNow(simPids: number[]) {
  const me = procCpu('self');
  const sims = simPids.map(procCpu);
  const snap: CpuSplit = {
    cli: me.children,
    controller: me.self,
    agents: sims.reduce((s, c) => s + c.self, 0),
    scripts: sims.reduce((s, c) => s + c.children, 0),
  };
  return {
    snap,
    since(earlier: CpuSplit): CpuSplit {
      return {
        cli: round(snap.cli - earlier.cli, 2),
        controller: round(snap.controller - earlier.controller, 2),
        agents: round(snap.agents - earlier.agents, 2),
        scripts: round(snap.scripts - earlier.scripts, 2),
      };
    },
  };
}

/**
 * The floor of a fan-out to `hosts` hosts on this machine: `processes` bare node processes, started at once,
 * each starting its share of `/bin/sh -c true` all at once and exiting when the last has exited. Start to
 * the last exit, in seconds. It is what any agent that runs a real shell per host costs here (a node start,
 * and the fork and exec of every shell on these cores), without a controller, a CLI or a network.
 */
async function shellFloorRun(hosts: number, processes: number): Promise<RunResult> {
  const script =
    "const {spawn}=require('node:child_process');let left=Number(process.argv[1]);" +
    "for(let i=left;i>0;i--)spawn('/bin/sh',['-c','true'],{stdio:'ignore'}).on('exit',()=>{if(--left===0)process.exit(0)})";
  const t0 = performance.now();
  const shares = Array.from(
    { length: processes },
    (_, i) => Math.floor(hosts / processes) + (i < hosts % processes ? 1 : 0),
  );
  const all = await Promise.all(shares.map((n) => timeNode(['-e', script, String(n)])));
  return { seconds: (performance.now() - t0) / 1000, ok: all.every((r) => r.code === 0), results: hosts };
}

/** The same shells started by xargs, 2 per core at a time: the floor with no Node process in it. */
function xargsFloorRun(hosts: number): Promise<RunResult> {
  const parallel = 2 * availableParallelism();
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile('sh', ['-c', `seq ${hosts} | xargs -P ${parallel} -n 1 /bin/sh -c true`], (err) => {
      resolve({ seconds: (performance.now() - t0) / 1000, ok: !err, results: hosts });
    });
  });
}

/** Runs `node ARGS` to exit; seconds from spawn to exit, and its stdout. */
function timeNode(
  args: string[],
): Promise<{ seconds: number; code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // GSE_BENCH_CLI_NODE_ARGS: extra node flags for the timed processes (e.g. --cpu-prof), for investigations.
    const extra = (process.env.GSE_BENCH_CLI_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const t0 = performance.now();
    execFile(
      process.execPath,
      [...extra, ...args],
      { timeout: RUN_TIMEOUT_MS, maxBuffer: 64 * 2 ** 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ seconds: (performance.now() - t0) / 1000, code, stdout, stderr });
      },
    );
  });
}

/** One `gsectl exec` to `selector`; ok when it exited 0 with one succeeded result per expected host. */
async function execRun(
  url: string,
  selector: string,
  expected: number,
  simPids: number[],
): Promise<RunResult> {
  const before = cpuNow(simPids).snap;
  const r = await timeNode([
    GSECTL,
    'exec',
    '--hosts',
    selector,
    '--server',
    url,
    '--token',
    BENCH_ADMIN_TOKEN,
    '--timeout',
    '30s',
    '-o',
    'json',
    '--',
    'true',
  ]);
  let results = 0;
  try {
    const lines = JSON.parse(r.stdout) as Array<{ type: string; status?: string }>;
    results = lines.filter((l) => l.type === 'result' && l.status === 'succeeded').length;
  } catch {
    // not JSON: counted as lost below
  }
  const ok = r.code === 0 && results === expected;
  return {
    seconds: r.seconds,
    ok,
    results,
    cpu: cpuNow(simPids).since(before),
    ...(ok ? {} : { detail: `exit ${r.code}, ${results}/${expected} results; ${r.stderr.slice(0, 300)}` }),
  };
}

async function series(runs: number, once: () => Promise<RunResult>) {
  await once(); // warm-up: page cache, SQLite pages, the agents' first shell
  const all: RunResult[] = [];
  for (let i = 0; i < runs; i++) all.push(await once());
  const lost = all.filter((r) => !r.ok);
  for (const r of lost) progress('run lost', { detail: r.detail });
  const cpu = all.every((r) => r.cpu)
    ? {
        cpuMedianS: Object.fromEntries(
          (['cli', 'controller', 'agents', 'scripts'] as const).map((k) => [
            k,
            round(median(all.map((r) => r.cpu?.[k] ?? 0)), 2),
          ]),
        ),
      }
    : {};
  return {
    medianS: round(median(all.map((r) => r.seconds)), 3),
    minS: round(Math.min(...all.map((r) => r.seconds)), 3),
    runsS: all.map((r) => round(r.seconds, 3)),
    lost: lost.length,
    ...cpu,
  };
}

let work: string | undefined;
let ctl: BenchController | undefined;
let fleet: SimFleet | undefined;

async function main(): Promise<void> {
  // Before the fleet starts, while this process is small (its size is part of spawnTrueMs).
  const machine = probeMachine();
  const count = intArg('count', 1_000);
  const runs = intArg('runs', 5);
  // Agents per simulate process (default DEFAULT_PER_PROCESS): a real host forks its shells from a small
  // agent process, while one process holding 1,000 agents forks its whole heap on every spawn and runs
  // every host's shell one after another on one core; a profile of that process is ~half spawn.
  const perProcess = intArg('per-process', DEFAULT_PER_PROCESS);
  if (count < 200) throw new Error('--count must be at least 200 (the 100-host case is sim-100..sim-199)');
  if (await ensureOpenFileLimit(count * 6 + 1_000)) return;
  work = await tmpfsDir('gse-bench-exec-');
  const repo = await benchRepo(join(work, 'repo'), {
    'fleet/motd.yaml': motdSpec('motd', '/etc/motd', 'hi\n'),
  });
  ctl = await startBenchController(repo.dir, join(work, 'ctl'), { watchLocal: false });
  fleet = await startSimulator({ count, agentUrl: ctl.agentUrl, root: join(work, 'agents'), perProcess });
  const head = ctl.controller.reconciler.current?.id ?? '';
  if (!(await ctl.waitSynced(head, count, READY_TIMEOUT_MS, 50)))
    throw new Error(`only ${ctl.syncedCount(head)}/${count} agents Synced in ${READY_TIMEOUT_MS} ms`);
  progress('fleet Synced', { count });
  const c = ctl;
  // The simulate processes' pids (spawnNode execs node in place of its sh, so the pid is node's).
  const simPids = fleet.children.map((ch) => ch.child.pid).filter((p): p is number => p !== undefined);

  const floor = await series(runs, async () => {
    const r = await timeNode(['-e', '']);
    return { seconds: r.seconds, ok: r.code === 0, results: 0 };
  });
  // How many simulate processes hold the 100 hosts sim-100..sim-199 (one at the default 250 per process).
  const hundredProcesses = Math.floor(199 / perProcess) - Math.floor(100 / perProcess) + 1;
  const shells100 = await series(runs, () => shellFloorRun(100, hundredProcesses));
  const shellsAll = await series(runs, () => shellFloorRun(count, fleet?.children.length ?? 1));
  const xargs100 = await series(runs, () => xargsFloorRun(100));
  const xargsAll = await series(runs, () => xargsFloorRun(count));
  progress('shell floor', {
    hosts100: [shells100.medianS, xargs100.medianS],
    [`hosts${count}`]: [shellsAll.medianS, xargsAll.medianS],
  });
  const hundred = await series(runs, () => execRun(c.url, 'name=sim-1??', 100, simPids));
  progress('100 hosts', hundred);
  const all = await series(runs, () => execRun(c.url, '*', count, simPids));
  progress(`${count} hosts`, all);
  const cliStart = await series(runs, async () => {
    const r = await timeNode([GSECTL, 'exec', '--help']);
    return { seconds: r.seconds, ok: r.code === 0, results: 0 };
  });
  console.log(
    JSON.stringify({
      bench: 'exec-fanout',
      count,
      runs,
      agentsPerProcess: perProcess,
      // A spawn forks the whole agent process: its cost grows with this (libuv forks on Linux).
      agentProcessRssMiB: fleet.children.map((ch) => ch.rssMiB()),
      floor: {
        nodeE: floor,
        shells100,
        [`shells${count}`]: shellsAll,
        xargsShells100: xargs100,
        [`xargsShells${count}`]: xargsAll,
      },
      execHelp: { ...cliStart, ratioToNodeE: round(cliStart.medianS / floor.medianS) },
      hosts100: {
        ...hundred,
        goalS: GOAL_100_S,
        ratioToGoal: round(hundred.medianS / GOAL_100_S),
        ratioToNodeE: round(hundred.medianS / floor.medianS),
        ratioToShellFloor: round(hundred.medianS / shells100.medianS),
        // The goal is reachable here only when the machine's own floor is under it.
        floorWithinGoal: Math.min(shells100.medianS, xargs100.medianS) < GOAL_100_S,
        withinGoal: hundred.medianS < GOAL_100_S && hundred.lost === 0,
      },
      [`hosts${count}`]: {
        ...all,
        goalS: count === 1_000 ? GOAL_1000_S : null,
        ratioToNodeE: round(all.medianS / floor.medianS),
        ratioToShellFloor: round(all.medianS / shellsAll.medianS),
        floorWithinGoal: count === 1_000 ? Math.min(shellsAll.medianS, xargsAll.medianS) < GOAL_1000_S : null,
        withinGoal: count === 1_000 ? all.medianS < GOAL_1000_S && all.lost === 0 : null,
      },
      loadAverage: loadAverage(),
      machine,
    }),
  );
}

runBench(main, async () => {
  await fleet?.stop();
  await ctl?.stop();
  await removeDir(work);
});
