/** Pure decisions of process watching: which processes match a watch, which events a probe emits, restart delays. */

import { basename } from 'node:path';
import { backoffDelayMs } from '../../src/kernel/index.js';
import type { ManifestProcessWatch } from '../../src/protocol/manifest.js';
import type { ProcInfo } from './proc-scan.js';

/** The first restart happens at once; then the delay doubles from this... */
export const RESTART_BACKOFF_BASE_MS = 1_000;
/** ...up to this. */
export const RESTART_BACKOFF_MAX_MS = 60_000;
/** A process up this long after a restart resets the backoff. */
export const RESTART_STABLE_MS = 30_000;
/** Kernel limit of `/proc/<pid>/comm`. */
const COMM_MAX_CHARS = 15;

export interface ProbeResult {
  running: boolean;
  pids: number[];
  /** Set when the watch cannot be probed (a bad regex). */
  error?: string;
}

export type ProcessSpec = ManifestProcessWatch['process'];

/** True when the process is called `name`: its comm (truncated by the kernel) or argv[0]'s basename. */
export function nameMatches(name: string, proc: ProcInfo): boolean {
  if (proc.comm === name || (name.length > COMM_MAX_CHARS && proc.comm === name.slice(0, COMM_MAX_CHARS))) {
    return true;
  }
  const argv0 = proc.argv[0];
  return argv0 !== undefined && basename(argv0) === name;
}

/**
 * The pids of live (non-zombie) processes matching every criterion given: `name`, `cmdline` (a regex over
 * argv joined by spaces) and `pidFile` (then `pidFromFile` is the pid read from it, or null when unreadable).
 * A spec with no criterion matches nothing. Throws SyntaxError for a bad regex.
 */
export function matchProcesses(
  spec: ProcessSpec,
  procs: readonly ProcInfo[],
  pidFromFile: number | null | undefined,
  excludePids: ReadonlySet<number> = new Set(),
): number[] {
  if (spec.name === undefined && spec.cmdline === undefined && spec.pidFile === undefined) return [];
  if (spec.pidFile !== undefined && (pidFromFile === null || pidFromFile === undefined)) return [];
  const regex = spec.cmdline === undefined ? undefined : new RegExp(spec.cmdline);
  return procs
    .filter(
      (p) =>
        p.state !== 'Z' &&
        !excludePids.has(p.pid) &&
        (spec.pidFile === undefined || p.pid === pidFromFile) &&
        (spec.name === undefined || nameMatches(spec.name, p)) &&
        (regex === undefined || regex.test(p.argv.join(' '))),
    )
    .map((p) => p.pid);
}

/** The event a probe result causes: none at first sight of a running process, else only on a transition. */
export function probeTransition(
  previous: boolean | undefined,
  running: boolean,
): 'process.down' | 'process.up' | null {
  if (previous === undefined) return running ? null : 'process.down';
  if (previous === running) return null;
  return running ? 'process.up' : 'process.down';
}

/** Wait before restart attempt `attempt` (0-based): 0, then BASE, 2*BASE, ... capped at MAX. */
export function restartDelayMs(attempt: number): number {
  if (attempt <= 0) return 0;
  return backoffDelayMs(attempt, { baseMs: RESTART_BACKOFF_BASE_MS, maxMs: RESTART_BACKOFF_MAX_MS });
}

/** Parses a pid file's text; null when it holds no positive integer. */
export function parsePidFile(text: string): number | null {
  const pid = Number(text.trim().split(/\s+/)[0]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}
