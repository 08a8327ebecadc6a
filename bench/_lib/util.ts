/** Shared helpers of the benchmarks: statistics, arguments, bounded waits, git repos, child processes. */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root (dist/bench/_lib/util.js -> ../../..). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The compiled agent CLI (GSE_BENCH_AGENT_MAIN overrides it, to compare an experimental build). */
export const AGENT_MAIN = process.env.GSE_BENCH_AGENT_MAIN ?? join(REPO_ROOT, 'dist', 'agent', 'main.js');

export const BENCH_BOOTSTRAP_TOKEN = 'bench-bootstrap-token-0123456789';
export const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';

/** Progress goes to stderr; stdout carries only the final JSON line. */
export function progress(message: string, fields: Record<string, unknown> = {}): void {
  const extra = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 23)}] ${message}${extra}\n`);
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function loadAverage(): number[] {
  return loadavg().map((l) => round(l, 2));
}

/** `--name value` from argv, or `fallback`. */
export function argValue(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  return eq ? eq.slice(name.length + 3) : fallback;
}

export function intArg(name: string, fallback: number): number {
  const raw = argValue(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${raw}`);
  return n;
}

export function listArg(name: string, fallback: number[]): number[] {
  const raw = argValue(name);
  if (raw === undefined) return fallback;
  return raw.split(',').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: ${s} is not a positive integer`);
    return n;
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it returns true; false once `timeoutMs` passed (never throws). */
export async function pollUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 5,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
}

/** Forces a full GC when the process runs with --expose-gc (bench/run.mjs passes it). */
export function gc(): boolean {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) return false;
  g();
  g();
  return true;
}

export function rssMiB(): number {
  return round(process.memoryUsage().rss / 1024 / 1024, 1);
}

/** A temp dir on tmpfs (/dev/shm) when there is one, else the OS temp dir. */
export async function tmpfsDir(prefix: string): Promise<string> {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  return mkdtemp(join(base, prefix));
}

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@example.com',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@example.com',
};

export async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await run('git', args, { cwd, env: GIT_ENV })).stdout.trim();
}

export interface BenchRepo {
  dir: string;
  /** Writes files (relative paths) and commits them; resolves to the new SHA once `git commit` exited. */
  commit(files: Record<string, string>, message?: string): Promise<string>;
}

/** A new git repo on branch `main` whose first commit holds `files`. */
export async function benchRepo(dir: string, files: Record<string, string>): Promise<BenchRepo> {
  await mkdir(dir, { recursive: true });
  await git(dir, 'init', '-q', '-b', 'main');
  const repo: BenchRepo = {
    dir,
    async commit(change, message = 'change') {
      for (const [path, content] of Object.entries(change)) {
        const full = join(dir, path);
        await mkdir(dirname(full), { recursive: true });
        await writeFile(full, content);
      }
      await git(dir, 'add', '-A');
      await git(dir, 'commit', '-q', '-m', message);
      return git(dir, 'rev-parse', 'HEAD');
    },
  };
  await repo.commit(files, 'initial');
  return repo;
}

/** A ConfigFile selecting every host (`names: ["*"]`) with inline content. */
export function motdSpec(name: string, path: string, content: string): string {
  return `apiVersion: gse/v1
kind: ConfigFile
metadata: { name: ${name} }
spec:
  hosts: { names: ["*"] }
  path: ${path}
  content: ${JSON.stringify(content)}
  mode: "0644"
  syncPolicy: { selfHeal: true, prune: false }
`;
}

/** The soft open-file limit of this process (as a child shell inherits it). */
export function openFileLimit(): { soft: number; hard: number } {
  const read = (flag: string) => {
    const out = execFileSync('sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' }).trim();
    return out === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(out);
  };
  return { soft: read('-Sn'), hard: read('-Hn') };
}

const REEXEC_ENV = 'GSE_BENCH_REEXECED';

/**
 * Re-runs this bench under `ulimit -n min(want, hard)` when the soft limit is lower (Node cannot raise its
 * own). Returns true when the caller should stop (the re-executed child did the work and set the exit code).
 */
export async function ensureOpenFileLimit(want: number): Promise<boolean> {
  const { soft, hard } = openFileLimit();
  const target = Math.min(want, hard);
  if (soft >= target || process.env[REEXEC_ENV]) return false;
  progress('re-executing under a higher open-file limit', { soft, target });
  const args = [...process.execArgv, ...process.argv.slice(1)].map(shellQuote).join(' ');
  const child = spawn('sh', ['-c', `ulimit -n ${target} && exec ${shellQuote(process.execPath)} ${args}`], {
    stdio: 'inherit',
    env: { ...process.env, [REEXEC_ENV]: '1' },
  });
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  process.exitCode = code;
  return true;
}

export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

export interface ManagedChild {
  child: ChildProcess;
  /** The last lines of its stderr (diagnostics). */
  tail(): string[];
  /** Total user+system CPU seconds the process has used so far (from /proc), or NaN. */
  cpuSeconds(): number;
  /** Resident set size in MiB (from /proc), or NaN. */
  rssMiB(): number;
  /** Peak resident set size (VmHWM) in MiB, or NaN. */
  peakRssMiB(): number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

const children = new Set<ManagedChild>();

/**
 * Spawns `node <args>` under `ulimit -n <nofile>` (through `sh -c '... exec node'`, so the pid is node's).
 * Its stderr is kept (last lines) rather than forwarded, unless `forward` is set.
 */
export function spawnNode(args: string[], opts: { nofile?: number; forward?: boolean } = {}): ManagedChild {
  // GSE_BENCH_CHILD_NODE_ARGS: extra node flags for children (e.g. --cpu-prof), for investigations.
  const extra = (process.env.GSE_BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const node = [process.execPath, ...extra, ...args].map(shellQuote).join(' ');
  const ulimit = opts.nofile ? `ulimit -n ${opts.nofile} && ` : '';
  const child = spawn('sh', ['-c', `${ulimit}exec ${node}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    if (opts.forward) process.stderr.write(chunk);
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) {
      lines.push(l);
      if (lines.length > 40) lines.shift();
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const pid = child.pid;
  const managed: ManagedChild = {
    child,
    exited,
    tail: () => [...lines, ...(partial ? [partial] : [])],
    cpuSeconds: () => procCpuSeconds(pid),
    rssMiB: () => procRssMiB(pid),
    peakRssMiB: () => procRssMiB(pid, 'VmHWM'),
    async stop(graceMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      children.delete(managed);
    },
  };
  children.add(managed);
  return managed;
}

/** Kills every child still running (on the way out, whatever happened). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((c) => c.stop(5_000)));
}

/** User+system CPU seconds process `pid` has used so far (from /proc), or NaN. */
export function procCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / 100;
  } catch {
    return Number.NaN;
  }
}

function procRssMiB(pid: number | undefined, field = 'VmRSS'): number {
  if (pid === undefined) return Number.NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status);
    return m ? round(Number(m[1]) / 1024, 1) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Removes `dir` (best effort, never throws). */
export async function removeDir(dir: string | undefined): Promise<void> {
  if (!dir) return;
  await rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch((err: unknown) =>
    progress('could not remove temp dir', { dir, error: String(err) }),
  );
}

/** Runs `main`, always running `cleanup`, and exits non-zero on failure; also cleans up on SIGINT/SIGTERM. */
export function runBench(main: () => Promise<void>, cleanup: () => Promise<void>): void {
  let cleaned: Promise<void> | undefined;
  const clean = () => {
    cleaned ??= (async () => {
      await stopAllChildren().catch(() => undefined);
      await cleanup().catch((err: unknown) => progress('cleanup failed', { error: String(err) }));
    })();
    return cleaned;
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      clean().then(
        () => process.exit(130),
        (err: unknown) => {
          console.error(`cleanup failed: ${String(err)}`);
          process.exit(130);
        },
      );
    });
  }
  main()
    .catch((err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    })
    .finally(() => clean())
    .finally(() => {
      // Anything still holding the loop (a stuck socket) must not keep the bench alive.
      setTimeout(() => process.exit(), 2_000).unref();
    });
}
