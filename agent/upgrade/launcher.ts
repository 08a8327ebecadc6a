/**
 * `gse-agent launch --install-dir D -- <agent args>`: supervises the agent of `D/current` (what a systemd
 * unit runs). It starts `versions/<V>/dist/agent/main.js` with INSTALL_DIR_ENV set, and after each exit
 * follows the pure plans of decide.ts: start the new version at once (exit 75), roll back a new version that
 * did not report within its health deadline (killing it when the deadline passes), or restart with back-off.
 * SIGTERM/SIGINT go to the agent; the launcher exits once it has. Spawn, clock and sleep are injected so the
 * loop is tested without processes.
 */
import { spawn as spawnProcess } from 'node:child_process';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../src/kernel/index.js';
import { planExit, planLaunch } from './decide.js';
import { NotInstalledError } from './errors.js';
import {
  INSTALL_DIR_ENV,
  type InstallLayout,
  installLayout,
  linkedVersion,
  switchLink,
  versionDir,
} from './layout.js';
import {
  readUpgradeRecord,
  type UpgradeRecord,
  withFailure,
  withState,
  writeUpgradeRecord,
} from './record.js';

/** An agent process the launcher started. */
export interface LaunchedChild {
  readonly pid: number | undefined;
  /** Resolves once it exited. */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  kill(signal: NodeJS.Signals): void;
}

export interface LauncherDeps {
  spawn(command: string, args: string[], env: NodeJS.ProcessEnv): LaunchedChild;
  now(): number;
  /** Waits `ms`; resolves early when `wake` is called (the launcher was told to stop). */
  sleep(ms: number, wake: AbortSignal): Promise<void>;
  logger: Logger;
  /** Environment the agent starts with (plus INSTALL_DIR_ENV); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Node binary the agent runs on; default process.execPath. */
  node?: string;
}

/** A run this long resets the restart back-off. */
export const HEALTHY_RUN_MS = 10_000;
/** How often the launcher looks at the record while a new version has a deadline running. */
const HEALTH_POLL_MS = 200;

/** One launcher over one install dir; `run()` returns when it was stopped and the agent exited. */
export class Launcher {
  private stopping = false;
  private readonly wake = new AbortController();
  private child: LaunchedChild | undefined;
  private readonly layout: InstallLayout;

  constructor(
    installDir: string,
    private readonly agentArgs: string[],
    private readonly deps: LauncherDeps,
  ) {
    this.layout = installLayout(installDir);
  }

  /** Stops: the signal goes to the agent, and `run()` returns once it exited. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.stopping = true;
    this.wake.abort();
    this.child?.kill(signal);
  }

  /** The supervision loop. */
  async run(): Promise<void> {
    let crashes = 0;
    const { logger } = this.deps;
    while (!this.stopping) {
      let record = await readUpgradeRecord(this.layout.record);
      const plan = planLaunch(record);
      if (plan.kind === 'finish-switch') {
        // The agent was killed between its two writes: `current` may point at either version. Finish it.
        await switchLink(this.layout.current, plan.attempt.to);
        record = withState(record, 'switched', this.iso());
        await writeUpgradeRecord(this.layout.record, record);
        logger.info('finished a switch the agent was killed in', { to: plan.attempt.to });
      }
      const version = await linkedVersion(this.layout.current);
      if (!version) throw new NotInstalledError(this.layout.dir);
      const watched =
        record.current?.state === 'switched' && record.current.to === version ? record.current : undefined;
      const startedAt = this.deps.now();
      const child = this.start(version);
      await this.writePids(child, version);
      let deadlineMissed = false;
      const exit = watched
        ? await this.watchHealth(child, startedAt + watched.healthDeadlineMs, () => {
            deadlineMissed = true;
          })
        : await child.exited;
      this.child = undefined;
      const after = await readUpgradeRecord(this.layout.record);
      crashes = this.deps.now() - startedAt >= HEALTHY_RUN_MS ? 0 : crashes;
      const next = planExit({
        code: exit.code,
        signal: exit.signal,
        stopping: this.stopping,
        record: after,
        deadlineMissed,
        ranVersion: version,
        crashes,
      });
      logger.info('agent exited', { version, code: exit.code, signal: exit.signal, next: next.kind });
      switch (next.kind) {
        case 'stop':
          return;
        case 'start-now':
          crashes = 0;
          break;
        case 'rollback':
          await switchLink(this.layout.current, next.attempt.from);
          await writeUpgradeRecord(this.layout.record, withFailure(after, next.reason, this.iso(), true));
          logger.warn('rolled back', { from: next.attempt.to, to: next.attempt.from, reason: next.reason });
          crashes = 0;
          break;
        case 'restart':
          crashes++;
          await this.deps.sleep(next.delayMs, this.wake.signal);
          break;
      }
    }
  }

  private start(version: string): LaunchedChild {
    const main = join(versionDir(this.layout, version), 'dist/agent/main.js');
    const env = { ...(this.deps.env ?? process.env), [INSTALL_DIR_ENV]: this.layout.dir };
    const child = this.deps.spawn(this.deps.node ?? process.execPath, [main, ...this.agentArgs], env);
    this.child = child;
    this.deps.logger.info('agent started', { version, pid: child.pid });
    return child;
  }

  /** Waits for the exit; kills the agent when the deadline passes and the record is still not healthy. */
  private async watchHealth(
    child: LaunchedChild,
    deadline: number,
    missed: () => void,
  ): Promise<{ code: number | null; signal: string | null }> {
    let done = false;
    const exited = child.exited.then((e) => {
      done = true;
      return e;
    });
    while (!done && !this.stopping) {
      const left = deadline - this.deps.now();
      if (left <= 0) {
        const record: UpgradeRecord = await readUpgradeRecord(this.layout.record);
        if (record.current?.state === 'switched' && !done) {
          missed();
          child.kill('SIGKILL');
        }
        break;
      }
      const poll = new AbortController();
      await Promise.race([exited, this.deps.sleep(Math.min(left, HEALTH_POLL_MS), poll.signal)]);
      poll.abort();
      if (!done) {
        const record = await readUpgradeRecord(this.layout.record);
        if (record.current?.state !== 'switched') break; // healthy (or failed): no deadline any more
      }
    }
    return exited;
  }

  /** `launcher.json`: who runs now (for operators and tests); written whole, a failure only logged. */
  private async writePids(child: LaunchedChild, version: string): Promise<void> {
    const tmp = `${this.layout.pids}.tmp`;
    try {
      await writeFile(
        tmp,
        `${JSON.stringify({ launcher: process.pid, agent: child.pid, version })}
`,
      );
      await rename(tmp, this.layout.pids);
    } catch (err) {
      this.deps.logger.warn('cannot write launcher.json', { error: String(err) });
    }
  }

  private iso(): string {
    return new Date(this.deps.now()).toISOString();
  }
}

/** Real processes: the agent in the launcher's process group, stdio inherited (journald gets both). */
export function spawnAgent(command: string, args: string[], env: NodeJS.ProcessEnv): LaunchedChild {
  const child = spawnProcess(command, args, { env, stdio: 'inherit' });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: 127, signal: null }));
  });
  return {
    pid: child.pid,
    exited,
    kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** A sleep that ends early when `wake` aborts. */
export function abortableSleep(ms: number, wake: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (wake.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      wake.removeEventListener('abort', done);
      resolve();
    }
    wake.addEventListener('abort', done, { once: true });
  });
}
