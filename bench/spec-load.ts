/**
 * Spec loader benchmark: a generated tree of 5,000 documents over 500 files; measures the full
 * load+validate (`loadRevisionFromDir`) and the incremental re-validation after one file changed.
 * Progress goes to stderr; the last stdout line is one JSON object.
 * Usage: node dist/bench/spec-load.js [--documents N] [--files N] [--runs N]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { closeSpecWorkers, createSpecLoader, loadRevisionFromDir, readTree } from '../src/spec/load.js';
import { formatSpecError, type LoadResult } from '../src/spec/types.js';

const GOAL_FULL_LOAD_MS = 1500;
const GOAL_ONE_FILE_REVALIDATE_MS = 50;
const SOURCE_FILE_COUNT = 100;

/** The kinds in the generated tree and their share of documents (a fleet is mostly config and watches). */
const MIX: Array<[kind: string, weight: number]> = [
  ['ConfigFile', 35],
  ['ProcessWatch', 15],
  ['Route', 15],
  ['StreamTarget', 10],
  ['Remediation', 10],
  ['HostGroup', 10],
  ['AgentVersion', 5],
];

function kindOf(i: number): string {
  const total = MIX.reduce((n, [, w]) => n + w, 0);
  let slot = (i * 37) % total;
  for (const [kind, w] of MIX) {
    if (slot < w) return kind;
    slot -= w;
  }
  return 'ConfigFile';
}

function doc(kind: string, i: number, targets: number): string {
  const head = `apiVersion: gse/v1\nkind: ${kind}\nmetadata:\n  name: ${kind.toLowerCase()}-${i}\n  labels: { team: team-${i % 17}, tier: "a" }\n`;
  const hosts = `  hosts:\n    matchLabels: { role: role-${i % 23} }\n    names: ["web-${i % 50}-*", "api-?${i % 7}"]\n`;
  switch (kind) {
    case 'ConfigFile':
      return `${head}spec:\n${hosts}  path: /etc/app/conf-${i}.conf\n${
        i % 3 === 0
          ? `  source: files/app-${i % SOURCE_FILE_COUNT}.conf\n  template: true\n`
          : '  content: |\n    key = value\n    other = 1\n'
      }  mode: "0640"\n  owner: root:root\n  onChange: { run: "systemctl reload app-${i}", timeout: 30s }\n  syncPolicy: { selfHeal: true, prune: ${i % 2 === 0} }\n`;
    case 'ProcessWatch':
      return `${head}spec:\n${hosts}  process: { name: proc-${i}, cmdline: "proc-${i} --serve .*" }\n  ensure: running\n  start: systemctl start proc-${i}\n  probeInterval: 10s\n`;
    case 'Route':
      return `${head}spec:\n  channel: ${1000 + i}\n${hosts}  filters:\n    allOf:\n      - { field: level, op: ne, value: debug }\n    anyOf:\n      - { field: type, op: regex, value: "^process\\\\." }\n      - { field: type, op: in, value: [disk.full, corefile] }\n  targets:\n    - name: streamtarget-${(i * 7) % targets}\n  batch: { maxRecords: 500, maxDelay: 200ms }\n  format: ${i % 2 ? 'gse' : 'json'}\n`;
    case 'StreamTarget':
      return `${head}spec:\n  redis:\n    url: redis://redis-${i % 5}:6379/0\n    mode: stream\n    key: gse:events:${i}\n    maxLen: 100000\n    passwordFrom: { env: REDIS_PASSWORD }\n  spool: { maxBytes: 268435456 }\n`;
    case 'Remediation':
      return `${head}spec:\n  on: { event: process.down, match: { process: proc-${i} } }\n${hosts}  run:\n    script: systemctl restart proc-${i}\n    interpreter: /bin/sh\n    timeout: 60s\n  cooldown: 5m\n  maxPerHour: 4\n`;
    case 'HostGroup':
      return `${head}spec:\n  match:\n    names: ["host-${i}-*"]\n    cidrs: ["10.${i % 250}.0.0/16"]\n    cloudIds: [${i % 4}]\n  labels: { role: role-${i % 23}, dc: dc-${i % 3} }\n`;
    default:
      return `${head}spec:\n  version: 1.${i % 9}.0\n${hosts}  rollout: { batchSize: 25%, maxUnavailable: 1, pauseBetween: 1m, mode: auto }\n`;
  }
}

/** Writes the tree; StreamTargets get indexes 0..n-1 by construction so every Route target resolves. */
async function generateTree(dir: string, documents: number, files: number): Promise<Map<string, string>> {
  const perFile = Math.ceil(documents / files);
  const contents = new Map<string, string>();
  const counters = new Map<string, number>();
  const bodies: string[][] = Array.from({ length: files }, () => []);
  const targetCount = Math.max(1, Math.round((documents * 10) / 100));
  for (let i = 0; i < documents; i++) {
    const kind = kindOf(i);
    const n = counters.get(kind) ?? 0;
    counters.set(kind, n + 1);
    bodies[Math.floor(i / perFile)]?.push(
      doc(kind, n, Math.min(targetCount, counters.get('StreamTarget') ?? 1)),
    );
  }
  bodies.forEach((docs, f) => {
    contents.set(`fleet/group-${f % 20}/specs-${f}.yaml`, docs.join('---\n'));
  });
  for (let s = 0; s < SOURCE_FILE_COUNT; s++)
    contents.set(`files/app-${s}.conf`, `# app ${s}\nport = ${8000 + s}\n`);
  for (const [path, text] of contents) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return contents;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

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

async function main(): Promise<void> {
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
    const contents = await generateTree(dir, documents, files);

    let t = performance.now();
    assertOk(await loadRevisionFromDir(dir));
    const coldLoadMs = performance.now() - t;
    process.stderr.write(`warm-up (cold, compiles the schemas): ${round(coldLoadMs)} ms\n`);

    const fullRuns: number[] = [];
    for (let i = 0; i < runs; i++) {
      gc();
      t = performance.now();
      const result = await loadRevisionFromDir(dir);
      fullRuns.push(performance.now() - t);
      assertOk(result);
      process.stderr.write(`full load ${i + 1}/${runs}: ${round(fullRuns[i] ?? 0)} ms\n`);
    }

    const loader = createSpecLoader();
    let tree = await readTree(dir);
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
    const out = {
      bench: 'spec-load',
      documents,
      files,
      sourceFiles: SOURCE_FILE_COUNT,
      coldLoadMs: round(coldLoadMs),
      fullLoadMs: { median: round(fullMedian), runs: fullRuns.map(round) },
      oneFileRevalidateMs: { median: round(oneMedian), runs: oneFileRuns.map(round) },
      oneFileRevalidateAfterFullGcMs: { median: round(median(afterGcRuns)), runs: afterGcRuns.map(round) },
      goals: { fullLoadMs: GOAL_FULL_LOAD_MS, oneFileRevalidateMs: GOAL_ONE_FILE_REVALIDATE_MS },
      met: {
        fullLoadMs: fullMedian < GOAL_FULL_LOAD_MS,
        oneFileRevalidateMs: oneMedian < GOAL_ONE_FILE_REVALIDATE_MS,
      },
      notes:
        'fullLoadMs: loadRevisionFromDir (read + parse + validate + cross-refs), schemas already compiled; ' +
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
