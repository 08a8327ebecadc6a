/**
 * Spec loader benchmark: a generated tree of 5,000 documents over 500 files; measures the first load in the
 * process (`coldLoadMs`), the warm full load+validate (`loadRevisionFromDir`) and the incremental
 * re-validation after one file changed. Floors from the same run: reading the tree, and `yaml`-parsing its
 * spec files in one thread with no validation. Goals (issue #14): warm < 500 ms, cold < 700 ms.
 * Progress goes to stderr; the last stdout line is one JSON object.
 * Usage: node dist/bench/spec-load.js [--documents N] [--files N] [--runs N]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LineCounter, parseAllDocuments } from 'yaml';
import { parseYamlFast } from '../src/spec/fast-yaml.js';
import { closeSpecWorkers, createSpecLoader, loadRevisionFromDir, readTree } from '../src/spec/load.js';
import { withPlainEnv } from '../src/spec/plain-env.js';
import { isSpecFile } from '../src/spec/spec-files.js';
import { formatSpecError, type LoadResult } from '../src/spec/types.js';
import { probeMachine } from './_lib/machine.js';
import { generateSpecTree, SOURCE_FILE_COUNT } from './_lib/spec-tree.js';
import { loadAverage, median } from './_lib/util.js';

const GOAL_FULL_LOAD_MS = 500;
const GOAL_COLD_LOAD_MS = 700;
const GOAL_ONE_FILE_REVALIDATE_MS = 50;

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function assertOk(result: LoadResult): void {
  if (result.ok) return;
  throw new Error(
    `generated tree is invalid:\n${result.errors.slice(0, 10).map(formatSpecError).join('\n')}`,
  );
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** CPU time of the whole process (every thread) in ms. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Times `fn` `runs` times after a GC each; wall ms per run. */
async function timeRuns(runs: number, label: string, fn: () => unknown): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    gc();
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
    process.stderr.write(`${label} ${i + 1}/${runs}: ${round(out[i] ?? 0)} ms\n`);
  }
  return out;
}

/**
 * The floor of parsing: every spec file through `yaml` (positions kept, as the loader does), nothing else;
 * with the loader's plain `process.env` (plain-env.ts), so that the floor is as low as the loader can get.
 */
function yamlParseOnly(tree: ReadonlyMap<string, Buffer>): number {
  return withPlainEnv(() => {
    let documents = 0;
    for (const [path, bytes] of tree) {
      if (!isSpecFile(path)) continue;
      documents += parseAllDocuments(bytes.toString('utf8'), { lineCounter: new LineCounter() }).length;
    }
    return documents;
  });
}

/** The floor of the fast path: every spec file through fast-yaml.ts (no positions), nothing else. */
function fastParseOnly(tree: ReadonlyMap<string, Buffer>): number {
  let documents = 0;
  for (const [path, bytes] of tree) {
    if (!isSpecFile(path)) continue;
    documents += parseYamlFast(path, bytes.toString('utf8'))?.length ?? 0;
  }
  return documents;
}

async function main(): Promise<void> {
  // Before the fleet starts, while this process is small (its size is part of spawnTrueMs).
  const machine = probeMachine();
  const { values } = parseArgs({
    options: {
      documents: { type: 'string', default: '5000' },
      files: { type: 'string', default: '500' },
      runs: { type: 'string', default: '5' },
    },
  });
  const documents = Number(values.documents);
  const files = Number(values.files);
  const runs = Number(values.runs);
  const dir = await mkdtemp(join(tmpdir(), 'gse-bench-spec-'));
  try {
    process.stderr.write(`generating ${documents} documents in ${files} files under ${dir}\n`);
    const contents = await generateSpecTree(dir, documents, files);

    const t = performance.now();
    const coldCpu = cpuMs();
    assertOk(await loadRevisionFromDir(dir));
    const coldLoadMs = performance.now() - t;
    const coldLoadCpuMs = cpuMs() - coldCpu;
    process.stderr.write(`cold load (first in this process): ${round(coldLoadMs)} ms\n`);

    const fullCpu: number[] = [];
    const fullRuns = await timeRuns(runs, 'full load', async () => {
      const c = cpuMs();
      const result = await loadRevisionFromDir(dir);
      fullCpu.push(cpuMs() - c);
      assertOk(result);
    });

    // Floors, after the loads so that they do not warm up the cold load.
    let tree = await readTree(dir);
    const readRuns = await timeRuns(runs, 'floor: read the tree', () => readTree(dir));
    const parseRuns = await timeRuns(runs, 'floor: yaml-parse in one thread', () => yamlParseOnly(tree));
    const fastRuns = await timeRuns(runs, 'floor: fast-parse in one thread', () => fastParseOnly(tree));

    const loader = createSpecLoader();
    assertOk(loader.load(tree));
    const changed = `fleet/group-7/specs-7.yaml`;
    const original = contents.get(changed) ?? '';
    let edits = 0;
    /** Changes one file (on disk and in the tree) and times the incremental re-validation. */
    const revalidateOneFile = async (forceGcFirst: boolean): Promise<number> => {
      const text = original.replace('tier: "a"', `tier: "b${edits++}"`);
      await writeFile(join(dir, changed), text);
      tree = new Map(tree).set(changed, Buffer.from(text));
      if (forceGcFirst) gc();
      const start = performance.now();
      const result = loader.load(tree);
      const ms = performance.now() - start;
      assertOk(result);
      return ms;
    };
    const oneFileRuns: number[] = [];
    const afterGcRuns: number[] = [];
    for (let i = 0; i < runs; i++) {
      oneFileRuns.push(await revalidateOneFile(false));
      process.stderr.write(`one-file revalidation ${i + 1}/${runs}: ${round(oneFileRuns[i] ?? 0)} ms\n`);
    }
    // A forced full GC right before the load slows the next YAML parse several times over (V8 after a
    // full collection); reported apart, as the pessimistic case.
    for (let i = 0; i < runs; i++) afterGcRuns.push(await revalidateOneFile(true));

    const fullMedian = median(fullRuns);
    const oneMedian = median(oneFileRuns);
    const readMedian = median(readRuns);
    const parseMedian = median(parseRuns);
    const out = {
      bench: 'spec-load',
      documents,
      files,
      sourceFiles: SOURCE_FILE_COUNT,
      coldLoadMs: round(coldLoadMs),
      coldLoadCpuMs: round(coldLoadCpuMs),
      fullLoadMs: { median: round(fullMedian), runs: fullRuns.map(round) },
      fullLoadCpuMs: { median: round(median(fullCpu)), runs: fullCpu.map(round) },
      oneFileRevalidateMs: { median: round(oneMedian), runs: oneFileRuns.map(round) },
      oneFileRevalidateAfterFullGcMs: { median: round(median(afterGcRuns)), runs: afterGcRuns.map(round) },
      floors: {
        readTreeMs: { median: round(readMedian), runs: readRuns.map(round) },
        yamlParseOneThreadMs: { median: round(parseMedian), runs: parseRuns.map(round) },
        fastParseOneThreadMs: { median: round(median(fastRuns)), runs: fastRuns.map(round) },
      },
      ratios: {
        fullLoadToReadTree: round(fullMedian / readMedian),
        fullLoadToReadPlusYamlParse: round(fullMedian / (readMedian + parseMedian)),
        coldLoadToReadPlusYamlParse: round(coldLoadMs / (readMedian + parseMedian)),
      },
      goals: {
        fullLoadMs: GOAL_FULL_LOAD_MS,
        coldLoadMs: GOAL_COLD_LOAD_MS,
        oneFileRevalidateMs: GOAL_ONE_FILE_REVALIDATE_MS,
      },
      met: {
        fullLoadMs: fullMedian < GOAL_FULL_LOAD_MS,
        coldLoadMs: coldLoadMs < GOAL_COLD_LOAD_MS,
        oneFileRevalidateMs: oneMedian < GOAL_ONE_FILE_REVALIDATE_MS,
      },
      loadAverage: loadAverage(),
      machine,
      notes:
        'coldLoadMs: the first loadRevisionFromDir of this process (cold JIT; in the calling thread below ' +
        'COLD_PARALLEL_MIN_BYTES, worker-pool.ts); ' +
        'fullLoadMs: loadRevisionFromDir (read + parse + validate + cross-refs) again, warm; ...CpuMs: CPU ' +
        'time of all threads, steadier than wall time on a busy machine; ' +
        'floors: readTree of the directory, yaml parseAllDocuments of every spec file in one thread ' +
        '(with a plain process.env, as the loader parses; the path of files with errors), and the fast ' +
        'parser (fast-yaml.ts, the path of valid files) likewise; ' +
        'oneFileRevalidateMs: createSpecLoader().load(tree) with one file changed in an in-memory tree ' +
        '(...AfterFullGcMs: the same right after a forced full GC, when run with --expose-gc)',
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await closeSpecWorkers();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
