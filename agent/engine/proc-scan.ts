/**
 * Reads the process table from /proc: one scan (stat + cmdline per pid) serves every watch of a tick, and a
 * ProcScanner shared by many agents in one process reuses a scan younger than `maxAgeMs`.
 */
import { readdir, readFile } from 'node:fs/promises';
import { type Clock, systemClock } from './deps.js';

/** A scan this young is reused by further callers. */
export const SCAN_MAX_AGE_MS = 200;

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Kernel name (`/proc/<pid>/comm`, at most 15 chars). */
  comm: string;
  /** State letter from /proc/<pid>/stat: R, S, D, Z (zombie)... */
  state: string;
  argv: string[];
}

/** Parses `/proc/<pid>/stat`; the name is between the first `(` and the last `)` as it may hold both. */
export function parseStat(text: string): { comm: string; state: string; ppid: number } | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(' ');
  return { comm: text.slice(open + 1, close), state: rest[0] ?? '?', ppid: Number(rest[1] ?? 0) };
}

async function readProc(procRoot: string, pid: number): Promise<ProcInfo | undefined> {
  try {
    const [statText, cmdline] = await Promise.all([
      readFile(`${procRoot}/${pid}/stat`, 'utf8'),
      readFile(`${procRoot}/${pid}/cmdline`, 'utf8'),
    ]);
    const stat = parseStat(statText);
    if (!stat) return undefined;
    const argv = cmdline.split('\0');
    if (argv.at(-1) === '') argv.pop();
    return { pid, ...stat, argv };
  } catch {
    return undefined; // exited during the scan
  }
}

/** Every process visible in `procRoot` (default /proc). */
export async function scanProcesses(procRoot = '/proc'): Promise<ProcInfo[]> {
  const pids = (await readdir(procRoot)).filter((n) => /^\d+$/.test(n)).map(Number);
  const infos = await Promise.all(pids.map((pid) => readProc(procRoot, pid)));
  return infos.filter((p): p is ProcInfo => p !== undefined);
}

export interface ProcScannerOptions {
  /** Default /proc. */
  procRoot?: string;
  /** Default SCAN_MAX_AGE_MS. */
  maxAgeMs?: number;
  clock?: Clock;
}

/** A shared, briefly cached process-table reader; concurrent callers share one scan. */
export class ProcScanner {
  private last: { at: number; procs: ProcInfo[] } | undefined;
  private running: Promise<ProcInfo[]> | undefined;
  private count = 0;

  constructor(private readonly options: ProcScannerOptions = {}) {}

  /** Scans actually performed (tests and metrics). */
  get scans(): number {
    return this.count;
  }

  /** The process table, from a scan at most `maxAgeMs` old. */
  scan(): Promise<ProcInfo[]> {
    const clock = this.options.clock ?? systemClock;
    const maxAge = this.options.maxAgeMs ?? SCAN_MAX_AGE_MS;
    if (this.last && clock.now() - this.last.at <= maxAge) return Promise.resolve(this.last.procs);
    if (this.running) return this.running;
    this.count += 1;
    const run = scanProcesses(this.options.procRoot).then((procs) => {
      this.last = { at: clock.now(), procs };
      return procs;
    });
    this.running = run.finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Forgets the cached scan (after starting a process, so the next probe sees it). */
  invalidate(): void {
    this.last = undefined;
  }
}
