/**
 * Runs one script on the host. The default interpreter `/bin/sh` (and any shell: bash, dash, zsh, ksh, ash)
 * gets the script through `-c`; any other interpreter (`python3`, `perl`, `node`, `python3 -u`...) gets it
 * as a temp file (mode 0700, in `deps.scriptDir`) passed as its last argument, since `-c` is not universal
 * (`perl -e`, `node -e`). The script leads its own process group, so a timeout kills grandchildren too:
 * SIGTERM to the group, then SIGKILL after KILL_GRACE_MS. Scripts get a minimal environment (run-as.ts),
 * never the agent's; with `runAs` they run under that user's uid and gid (Node drops the supplementary
 * groups when it switches: the script keeps only the primary group it was given) and HOME, or fail.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { type Clock, type Logger, silentLogger } from './deps.js';
import { errorText, RunAsError } from './errors.js';
import type { Account, UserDb } from './owner.js';
import { agentHome, minimalEnv, resolveRunAs } from './run-as.js';
import { TailBuffer } from './tail-buffer.js';

export const DEFAULT_INTERPRETER = '/bin/sh';
/** Bytes of stdout and of stderr kept (the last ones). */
export const OUTPUT_TAIL_BYTES = 64 * 1024;
/** Wait between SIGTERM and SIGKILL of a timed-out script's process group. */
export const KILL_GRACE_MS = 5_000;
/** After the script exits, how long to wait for background children holding its stdout/stderr open. */
export const OUTPUT_DRAIN_MS = 1_000;
/** Exit code reported when the interpreter cannot be started (as a shell reports "command not found"). */
export const SPAWN_FAILED_EXIT_CODE = 127;
const SHELLS: ReadonlySet<string> = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash']);

export interface ExecSpec {
  taskId: string;
  script: string;
  /** Default DEFAULT_INTERPRETER; may carry arguments (`python3 -u`). */
  interpreter?: string;
  timeoutMs: number;
  env?: Record<string, string>;
  cwd?: string;
  /** `user` or `user:group` (names or ids) to run as; the task fails when the agent cannot switch. */
  runAs?: string;
  /** Aborting kills the process group at once (agent shutdown); the outcome says `killed`. */
  signal?: AbortSignal;
}

export interface ExecOutcome {
  /** null when the process ended by a signal. */
  exitCode: number | null;
  signal: string | null;
  stdoutTail: string;
  stderrTail: string;
  /** ISO time the process was started. */
  startedAt: string;
  durationMs: number;
  timedOut: boolean;
  /** The agent sent the signal that ended it (timeout or abort). */
  killed: boolean;
}

export interface ExecDeps {
  clock: Clock;
  logger?: Logger;
  /**
   * Variables laid over the minimal environment and under the script's `env` (tests use it for PATH);
   * default none. Never the agent's own process.env: that would hand its secrets to every script.
   */
  baseEnv?: Record<string, string>;
  /** Where `runAs` names are resolved; default /etc/passwd and /etc/group. */
  userDb?: UserDb;
  /** Where non-shell scripts are written; default the OS temp dir. */
  scriptDir?: string;
  /** Default KILL_GRACE_MS. */
  killGraceMs?: number;
  /** Default OUTPUT_TAIL_BYTES. */
  tailBytes?: number;
}

/** The argv to run `script` with `interpreter`, and the temp script file it needs (if any). */
export function commandFor(
  script: string,
  interpreter: string,
  scriptFile: string,
): { argv: string[]; needsFile: boolean } {
  const parts = interpreter.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return { argv: [DEFAULT_INTERPRETER, '-c', script], needsFile: false };
  if (SHELLS.has(basename(parts[0] as string))) return { argv: [...parts, '-c', script], needsFile: false };
  return { argv: [...parts, scriptFile], needsFile: true };
}

/** Sends `signal` (0: only probe) to process group `pgid`; false when the group is already gone. */
export function killGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Runs `spec.script` to completion (or timeout) and returns what happened; never throws for script failures. */
export async function runScript(spec: ExecSpec, deps: ExecDeps): Promise<ExecOutcome> {
  const logger = deps.logger ?? silentLogger;
  const scriptFile = join(deps.scriptDir ?? tmpdir(), `gse-task-${randomBytes(6).toString('hex')}`);
  const { argv, needsFile } = commandFor(spec.script, spec.interpreter ?? DEFAULT_INTERPRETER, scriptFile);
  const started = deps.clock.now();
  const startedAt = new Date(started).toISOString();
  // With runAs, a script file lives in a private temp dir of that user (the state dir is the agent's, 0700).
  let userDir: string | undefined;
  try {
    const account = spec.runAs === undefined ? undefined : await resolveRunAs(spec.runAs, deps);
    if (needsFile && account) {
      userDir = await mkdtemp(join(tmpdir(), 'gse-task-'));
      await chown(userDir, account.uid, account.gid);
      argv[argv.length - 1] = join(userDir, basename(scriptFile));
      await writeFile(argv[argv.length - 1] as string, spec.script, { mode: 0o700 });
      await chown(argv[argv.length - 1] as string, account.uid, account.gid);
    } else if (needsFile) {
      await mkdir(deps.scriptDir ?? tmpdir(), { recursive: true, mode: 0o700 });
      await writeFile(scriptFile, spec.script, { mode: 0o700 });
    }
    return await runProcess(argv, spec, deps, startedAt, started, account);
  } catch (err) {
    logger.warn('exec: could not start script', { taskId: spec.taskId, err: errorText(err) });
    const why =
      err instanceof RunAsError
        ? `gse-agent: refused to run: ${err.message}`
        : `gse-agent: cannot run ${argv[0]}${spec.cwd ? ` in ${spec.cwd}` : ''}: ${errorText(err)}`;
    return {
      exitCode: SPAWN_FAILED_EXIT_CODE,
      signal: null,
      stdoutTail: '',
      stderrTail: why,
      startedAt,
      durationMs: deps.clock.now() - started,
      timedOut: false,
      killed: false,
    };
  } finally {
    if (needsFile) await rm(scriptFile, { force: true });
    if (userDir) await rm(userDir, { recursive: true, force: true });
  }
}

function runProcess(
  argv: string[],
  spec: ExecSpec,
  deps: ExecDeps,
  startedAt: string,
  started: number,
  account: Account | undefined,
): Promise<ExecOutcome> {
  const tailBytes = deps.tailBytes ?? OUTPUT_TAIL_BYTES;
  const stdout = new TailBuffer(tailBytes);
  const stderr = new TailBuffer(tailBytes);
  const env = minimalEnv(account?.home ?? agentHome(), { ...(deps.baseEnv ?? {}), ...(spec.env ?? {}) });
  return new Promise<ExecOutcome>((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
      // Another user may not be able to enter the agent's working directory: start from / unless told.
      cwd: spec.cwd ?? (account ? '/' : undefined),
      ...(account ? { uid: account.uid, gid: account.gid } : {}),
    });
    let timedOut = false;
    let killed = false;
    const timers: NodeJS.Timeout[] = [];
    const terminate = (why: 'timeout' | 'abort') => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      if (why === 'timeout') timedOut = true;
      killed = true;
      const pid = child.pid;
      killGroup(pid, why === 'abort' ? 'SIGKILL' : 'SIGTERM');
      const kill = setTimeout(() => killGroup(pid, 'SIGKILL'), deps.killGraceMs ?? KILL_GRACE_MS);
      kill.unref();
      timers.push(kill);
    };
    const onAbort = () => terminate('abort');
    timers.push(setTimeout(() => terminate('timeout'), spec.timeoutMs));
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    if (spec.signal?.aborted) onAbort();
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.once('error', (err) => {
      for (const t of timers) clearTimeout(t);
      spec.signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timers[0]);
      spec.signal?.removeEventListener('abort', onAbort);
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        // Background children may still hold the pipes open: stop reading rather than wait for them.
        child.stdout.destroy();
        child.stderr.destroy();
        // Keep the SIGKILL escalation only while some member of the group is still alive.
        if ((!timedOut && !killed) || child.pid === undefined || !killGroup(child.pid, 0)) {
          for (const t of timers) clearTimeout(t);
        }
        resolve({
          exitCode: code,
          signal,
          stdoutTail: stdout.text(),
          stderrTail: stderr.text(),
          startedAt,
          durationMs: deps.clock.now() - started,
          timedOut,
          killed,
        });
      };
      const drain = setTimeout(finish, OUTPUT_DRAIN_MS);
      child.once('close', () => {
        clearTimeout(drain);
        finish();
      });
    });
  });
}
