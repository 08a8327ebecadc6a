/**
 * Process watching: probes each ManifestProcessWatch from one shared /proc scan per tick, emits
 * `process.down` / `process.up` on transitions only, and restarts `ensure: running` processes with the
 * declared `start` command (detached, own process group, output to a log in the state dir) with backoff.
 * Each start ends in one `process.restarted` (the process is seen running) or one `process.restart_failed`
 * (the start command failed or exited with no process running, or the next start came first).
 * Operations asked for by the controller (bk-nodeman's start/stop/restart/reload) run through `operate`:
 * a stop holds the watch's own restarts off until a start or a new version of the watch.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type HostManifest, itemKey, type ManifestProcessWatch } from '../../src/protocol/manifest.js';
import type { HostEvent, ProcOp } from '../../src/protocol/messages.js';
import { type Clock, type Logger, silentLogger } from './deps.js';
import { errorText } from './errors.js';
import { processEvent, processRestartedEvent, processRestartFailedEvent } from './events.js';
import { type ExecOutcome, runScript } from './exec.js';
import { ensurePrivateDir, openPrivate } from './private-fs.js';
import type { ProcScanner } from './proc-scan.js';
import {
  matchProcesses,
  type ProbeResult,
  parsePidFile,
  probeTransition,
  RESTART_STABLE_MS,
  restartDelayMs,
} from './process-match.js';
import { agentHome, minimalEnv } from './run-as.js';
import { openNoFollow, resolveManagedSafe } from './safe-path.js';

/** Probe intervals below this are raised to it. */
export const MIN_PROBE_INTERVAL_MS = 100;
/** After a start, the watch is probed again this soon to see it come up. */
export const START_RECHECK_MS = 300;
/** How long an operation waits for the process to come up (start) or go away (stop). */
export const OP_SETTLE_MS = 10_000;
/** How often an operation probes while it waits. */
export const OP_POLL_MS = 100;
/** Exit code of an operation that failed (no such watch, no command, did not come up or go away). */
export const OP_FAILED_EXIT_CODE = 1;

/** The pid in `pidFile` under the root, read with no symlink followed (null when absent or refused). */
async function readPid(root: string, pidFile: string): Promise<number | null> {
  try {
    const fh = await openNoFollow(pidFile, await resolveManagedSafe(root, pidFile));
    try {
      return parsePidFile(await fh.readFile('utf8'));
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}

/** The ProcessWatch items of a manifest. */
export function processWatches(manifest: HostManifest | undefined): ManifestProcessWatch[] {
  return (manifest?.items ?? []).filter((i): i is ManifestProcessWatch => i.kind === 'ProcessWatch');
}

/** Probes one watch against a process table (the pid file, if any, is read under `root`). */
export async function probeWatch(
  watch: ManifestProcessWatch,
  procs: Parameters<typeof matchProcesses>[1],
  root: string,
): Promise<ProbeResult> {
  const pid = watch.process.pidFile === undefined ? undefined : await readPid(root, watch.process.pidFile);
  try {
    const pids = matchProcesses(watch.process, procs, pid, new Set([process.pid]));
    return { running: pids.length > 0, pids };
  } catch (err) {
    return { running: false, pids: [], error: errorText(err) };
  }
}

/** Probes all `watches` from one scan; keyed by item key. */
export async function probeWatches(
  watches: readonly ManifestProcessWatch[],
  deps: { scanner: ProcScanner; root: string },
): Promise<Map<string, ProbeResult>> {
  const procs = await deps.scanner.scan();
  const out = new Map<string, ProbeResult>();
  for (const w of watches) out.set(itemKey(w), await probeWatch(w, procs, deps.root));
  return out;
}

export interface ProcessMonitorDeps {
  clock: Clock;
  logger?: Logger;
  /** `--root`, for pid files. */
  root: string;
  stateDir: string;
  scanner: ProcScanner;
  onEvent(event: HostEvent): void;
  /** Variables added to the minimal environment of started processes (default none; never process.env). */
  baseEnv?: Record<string, string>;
}

/** A start whose outcome is not known yet. */
interface PendingStart {
  attempt: number;
  /** The start command has exited (or could not be spawned). */
  exited: boolean;
  /** Why it failed, when the start command said so. */
  error?: string;
}

interface WatchState {
  watch: ManifestProcessWatch;
  pending: PendingStart | undefined;
  nextProbeAt: number;
  running: boolean | undefined;
  last: ProbeResult | undefined;
  attempts: number;
  lastStartAt: number;
  upSince: number | undefined;
  /** Stopped by an operation: no restart until a start or a new version of the watch. */
  held: boolean;
  /** An operation is running: the probe loop leaves starting to it. */
  operating: boolean;
}

export class ProcessMonitor {
  private readonly states = new Map<string, WatchState>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private started = false;

  constructor(private readonly deps: ProcessMonitorDeps) {}

  /** Replaces the watched set; a watch whose hash changed starts afresh (probed at once). */
  setWatches(watches: readonly ManifestProcessWatch[]): void {
    const now = this.deps.clock.now();
    const keys = new Set(watches.map((w) => itemKey(w)));
    for (const key of this.states.keys()) if (!keys.has(key)) this.states.delete(key);
    for (const watch of watches) {
      const key = itemKey(watch);
      const old = this.states.get(key);
      if (old && old.watch.hash === watch.hash) continue;
      this.states.set(key, {
        watch,
        nextProbeAt: now,
        pending: undefined,
        running: undefined,
        last: undefined,
        attempts: 0,
        lastStartAt: 0,
        upSince: undefined,
        held: false,
        operating: false,
      });
    }
    if (this.started) this.arm();
  }

  /** The last probe result of a watch. */
  status(key: string): ProbeResult | undefined {
    return this.states.get(key)?.last;
  }

  /** Starts probing on the watches' intervals. */
  start(): void {
    this.started = true;
    this.arm();
  }

  /** Stops probing (started processes keep running: they are services). Waits for a tick in progress. */
  async stop(): Promise<void> {
    this.started = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking;
  }

  /** Probes every watch that is due, from one scan. */
  tick(): Promise<void> {
    this.ticking ??= this.runTick().finally(() => {
      this.ticking = undefined;
      if (this.started) this.arm();
    });
    return this.ticking;
  }

  private arm(): void {
    clearTimeout(this.timer);
    if (this.states.size === 0) return;
    const next = Math.min(...[...this.states.values()].map((s) => s.nextProbeAt));
    this.timer = setTimeout(
      () => {
        this.tick().catch((err: unknown) => this.logFailure('process watch: probe failed', err));
      },
      Math.max(0, next - this.deps.clock.now()),
    );
    this.timer.unref();
  }

  private async runTick(): Promise<void> {
    const now = this.deps.clock.now();
    const due = [...this.states.entries()].filter(([, s]) => s.nextProbeAt <= now);
    if (due.length === 0) return;
    const procs = await this.deps.scanner.scan();
    for (const [key, s] of due) {
      if (this.states.get(key) !== s) continue; // replaced meanwhile
      const result = await probeWatch(s.watch, procs, this.deps.root);
      this.observe(key, s, result, now);
    }
  }

  private observe(key: string, s: WatchState, result: ProbeResult, now: number): void {
    const { watch } = s;
    const transition = probeTransition(s.running, result.running);
    s.running = result.running;
    s.last = result;
    s.nextProbeAt = now + Math.max(MIN_PROBE_INTERVAL_MS, watch.probeIntervalMs);
    if (transition) {
      const fields = { process: watch.name, pids: result.pids, ensure: watch.ensure, restarts: s.attempts };
      this.deps.onEvent(processEvent(this.deps.clock, transition, key, fields));
    }
    this.settleStart(key, s, result);
    if (result.running) {
      s.upSince ??= now;
      if (now - s.upSince >= RESTART_STABLE_MS) s.attempts = 0;
      return;
    }
    s.upSince = undefined;
    if (watch.ensure !== 'running' || watch.start === undefined || result.error) return;
    if (s.held || s.operating) return;
    const startAt = s.attempts === 0 ? now : s.lastStartAt + restartDelayMs(s.attempts);
    if (now < startAt) {
      s.nextProbeAt = Math.min(s.nextProbeAt, startAt);
      return;
    }
    if (s.pending)
      this.startFailed(key, s, s.pending.error ?? 'the process did not come up before the next start');
    s.attempts += 1;
    s.lastStartAt = now;
    s.nextProbeAt = now + START_RECHECK_MS;
    const pending: PendingStart = { attempt: s.attempts, exited: false };
    s.pending = pending;
    this.startProcess(watch, pending).catch((err: unknown) =>
      this.logFailure(`process watch: start of ${watch.name} failed`, err),
    );
  }

  /** Raises the outcome of the start in progress once the probe tells it. */
  private settleStart(key: string, s: WatchState, result: ProbeResult): void {
    const p = s.pending;
    if (!p) return;
    if (result.running) {
      s.pending = undefined;
      this.deps.onEvent(
        processRestartedEvent(this.deps.clock, key, {
          process: s.watch.name,
          pids: result.pids,
          restarts: p.attempt,
        }),
      );
    } else if (p.exited) {
      this.startFailed(key, s, p.error ?? 'the start command exited and no matching process runs');
    }
  }

  private startFailed(key: string, s: WatchState, error: string): void {
    const p = s.pending;
    if (!p) return;
    s.pending = undefined;
    this.deps.onEvent(
      processRestartFailedEvent(this.deps.clock, key, { process: s.watch.name, restarts: p.attempt, error }),
    );
  }

  private logFailure(msg: string, err: unknown): void {
    (this.deps.logger ?? silentLogger).error(msg, { err: errorText(err) });
  }

  /**
   * Runs an operation on the watch named `name` and says how it went (exit code 0: done, or nothing to do
   * as the process already was in that state). `command` is used when the watch declares none for `op`.
   */
  async operate(
    name: string,
    op: ProcOp,
    command: string | undefined,
    timeoutMs: number,
  ): Promise<ExecOutcome> {
    const started = this.deps.clock.now();
    const lines: string[] = [];
    const done = (ok: boolean, why?: string): ExecOutcome => ({
      exitCode: ok ? 0 : OP_FAILED_EXIT_CODE,
      signal: null,
      stdoutTail: lines.join('\n'),
      stderrTail: why ?? '',
      startedAt: new Date(started).toISOString(),
      durationMs: this.deps.clock.now() - started,
      timedOut: false,
      killed: false,
    });
    const s = this.states.get(`ProcessWatch/${name}`);
    if (!s) return done(false, `gse-agent: no ProcessWatch named ${name} in the manifest this agent holds`);
    s.operating = true;
    try {
      if (op === 'stop') {
        s.held = true;
        return await this.stopOp(s, command, timeoutMs, lines, done);
      }
      if (op === 'start') {
        s.held = false;
        return await this.startOp(s, command, lines, done);
      }
      if (op === 'restart') {
        s.held = false;
        const restart = s.watch.restart ?? command;
        if (restart !== undefined) {
          const out = await this.runCommand(restart, timeoutMs);
          if (out.exitCode !== 0) return out;
          lines.push(`ran restart: ${restart}`);
          return (await this.waitFor(s, true))
            ? done(true)
            : done(false, `${name} is not running after restart`);
        }
        const stopped = await this.stopOp(s, undefined, timeoutMs, lines, done);
        if (stopped.exitCode !== 0) return stopped;
        return await this.startOp(s, undefined, lines, done);
      }
      // reload: the given command, else SIGHUP to the process.
      if (command !== undefined) return await this.runCommand(command, timeoutMs);
      const probe = await this.probeNow(s);
      if (!probe.running) return done(false, `${name} is not running: nothing to reload`);
      for (const pid of probe.pids) signalPid(pid, 'SIGHUP');
      lines.push(`sent SIGHUP to ${probe.pids.join(', ')}`);
      return done(true);
    } finally {
      s.operating = false;
    }
  }

  private async stopOp(
    s: WatchState,
    command: string | undefined,
    timeoutMs: number,
    lines: string[],
    done: (ok: boolean, why?: string) => ExecOutcome,
  ): Promise<ExecOutcome> {
    const probe = await this.probeNow(s);
    if (!probe.running) {
      lines.push(`${s.watch.name} is not running`);
      return done(true);
    }
    const stop = s.watch.stop ?? command;
    if (stop !== undefined) {
      const out = await this.runCommand(stop, timeoutMs);
      if (out.exitCode !== 0) return out;
      lines.push(`ran stop: ${stop}`);
    } else {
      for (const pid of probe.pids) signalPid(pid, 'SIGTERM');
      lines.push(`sent SIGTERM to ${probe.pids.join(', ')}`);
    }
    if (await this.waitFor(s, false)) return done(true);
    const left = await this.probeNow(s);
    for (const pid of left.pids) signalPid(pid, 'SIGKILL');
    lines.push(`sent SIGKILL to ${left.pids.join(', ')}`);
    return (await this.waitFor(s, false)) ? done(true) : done(false, `${s.watch.name} is still running`);
  }

  private async startOp(
    s: WatchState,
    command: string | undefined,
    lines: string[],
    done: (ok: boolean, why?: string) => ExecOutcome,
  ): Promise<ExecOutcome> {
    if ((await this.probeNow(s)).running) {
      lines.push(`${s.watch.name} is already running`);
      return done(true);
    }
    const start = s.watch.start ?? command;
    if (start === undefined) return done(false, `ProcessWatch ${s.watch.name} declares no start command`);
    s.lastStartAt = this.deps.clock.now();
    // An operator's start, not the watch's own: it raises no restarted/restart_failed.
    await this.startProcess(s.watch, { attempt: 0, exited: false }, start);
    lines.push(`ran start: ${start}`);
    return (await this.waitFor(s, true))
      ? done(true)
      : done(false, `${s.watch.name} did not come up within ${OP_SETTLE_MS} ms`);
  }

  /** Probes until the watch is `running` (or not), for up to OP_SETTLE_MS; true when it got there. */
  private async waitFor(s: WatchState, running: boolean): Promise<boolean> {
    for (let i = 0; i < OP_SETTLE_MS / OP_POLL_MS; i++) {
      if ((await this.probeNow(s)).running === running) return true;
      await sleep(OP_POLL_MS);
    }
    return (await this.probeNow(s)).running === running;
  }

  private async probeNow(s: WatchState): Promise<ProbeResult> {
    this.deps.scanner.invalidate();
    return probeWatch(s.watch, await this.deps.scanner.scan(), this.deps.root);
  }

  private runCommand(script: string, timeoutMs: number): Promise<ExecOutcome> {
    return runScript(
      { taskId: 'procOp', script, timeoutMs },
      {
        clock: this.deps.clock,
        logger: this.deps.logger,
        baseEnv: this.deps.baseEnv,
        scriptDir: this.deps.stateDir,
      },
    );
  }

  private async startProcess(
    watch: ManifestProcessWatch,
    pending: PendingStart,
    command = watch.start ?? '',
  ): Promise<void> {
    const logger = this.deps.logger ?? silentLogger;
    const dir = join(this.deps.stateDir, 'process-logs');
    try {
      await ensurePrivateDir(dir);
      const log = await openPrivate(join(dir, `${encodeURIComponent(watch.name)}.log`), 'a');
      try {
        const child = spawn('/bin/sh', ['-c', command], {
          detached: true,
          stdio: ['ignore', log.fd, log.fd],
          cwd: '/',
          env: minimalEnv(agentHome(), this.deps.baseEnv),
        });
        child.once('error', (err) => {
          pending.exited = true;
          pending.error = `start failed: ${errorText(err)}`;
          logger.warn('process watch: start failed', { watch: watch.name, err: errorText(err) });
        });
        child.once('exit', (code, signal) => {
          pending.exited = true;
          if (code !== 0)
            pending.error ??= `the start command ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`;
        });
        child.unref();
        logger.info('process watch: started', { watch: watch.name, pid: child.pid, command });
      } finally {
        await log.close();
      }
      this.deps.scanner.invalidate();
    } catch (err) {
      pending.exited = true;
      pending.error = `start failed: ${errorText(err)}`;
      logger.warn('process watch: start failed', { watch: watch.name, err: errorText(err) });
    }
  }
}

/** Sends `signal` to one process; a process already gone is not an error. */
function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}
