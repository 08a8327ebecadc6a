/**
 * `npm run bench -- cli-start [--runs 9]`
 *
 * Whole cold `gsectl` processes (spawn to exit) beside a bare `node -e ''` in the same run (the floor):
 * `validate examples/fleet`, `exec --help`, and `status` against a port nobody listens on (start-up plus a
 * refused connection). Medians of `--runs` runs after one warm-up; ratios to the floor. Goal (issue #14):
 * validate <= 3x the floor. Prints one JSON object as its last line.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { intArg, loadAverage, median, REPO_ROOT, round } from './_lib/util.js';

const GSECTL = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const GOAL_VALIDATE_RATIO = 3;

function timeNode(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    execFile(process.execPath, args, { cwd: REPO_ROOT }, () => resolve((performance.now() - t0) / 1000));
  });
}

async function main(): Promise<void> {
  const runs = intArg('runs', 9);
  const cases: Record<string, string[]> = {
    nodeE: ['-e', ''],
    validate: [GSECTL, 'validate', 'examples/fleet'],
    execHelp: [GSECTL, 'exec', '--help'],
    statusRefused: [GSECTL, 'status', '--server', 'http://127.0.0.1:1'],
  };
  const medians: Record<string, number> = {};
  const all: Record<string, number[]> = {};
  for (const name of Object.keys(cases)) all[name] = [];
  // Interleaved, so load changes hit every case alike.
  for (let i = 0; i <= runs; i++) {
    for (const [name, args] of Object.entries(cases)) {
      const s = await timeNode(args);
      if (i > 0) all[name]?.push(s);
    }
  }
  for (const [name, values] of Object.entries(all)) medians[name] = median(values);
  const floor = medians.nodeE as number;
  const result: Record<string, unknown> = { bench: 'cli-start', runs, floorNodeES: round(floor, 3) };
  for (const name of Object.keys(cases).filter((n) => n !== 'nodeE'))
    result[name] = {
      medianS: round(medians[name] as number, 3),
      ratioToNodeE: round((medians[name] as number) / floor),
    };
  const validateRatio = (medians.validate as number) / floor;
  result.goalValidateRatio = GOAL_VALIDATE_RATIO;
  result.withinGoal = validateRatio <= GOAL_VALIDATE_RATIO;
  result.loadAverage = loadAverage();
  console.log(JSON.stringify(result));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
