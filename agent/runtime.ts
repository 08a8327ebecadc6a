/** Builds the shared parts and deps an agent runs with, for the single agent and for simulated fleets. */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { jsonLinesLogger } from '../src/kernel/index.js';
import type { AgentDeps, AgentShared } from './agent.js';
import { type Logger, ProcScanner, SharedFileWatcher, systemClock } from './engine/index.js';

/** The agent's default state dir for a `--root` ('' is the real `/`): `<root>/var/lib/gse-agent`. */
export function defaultStateDir(root: string): string {
  return join(root || '/', 'var/lib/gse-agent');
}

/** One file watcher and one /proc scanner, shared by every agent in the process. */
export function createShared(logger: Logger): AgentShared {
  return { files: new SharedFileWatcher(logger), scanner: new ProcScanner() };
}

/** Real-clock deps for agents of this process. */
export function realDeps(logger: Logger, shared: AgentShared, onFatal?: (reason: string) => void): AgentDeps {
  return {
    clock: systemClock,
    logger,
    shared,
    sleep: (ms) => sleep(ms, undefined, { ref: false }).then(() => undefined),
    random: Math.random,
    ...(onFatal ? { onFatal } : {}),
  };
}

/** A logger writing JSON lines to stderr at `level` and above, with `fields` on every line. */
export function stderrLogger(
  level: 'debug' | 'info' | 'warn' | 'error' = 'info',
  fields: Record<string, unknown> = {},
): Logger {
  return jsonLinesLogger(level, (line) => process.stderr.write(line), fields);
}
