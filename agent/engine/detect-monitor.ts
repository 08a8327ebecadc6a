/**
 * Runs the HostChecks of the held manifest, each on its own interval (a probe never overlaps the one
 * before it), and hands on the events they raise and each status change (for the item report). A check
 * whose item changed starts afresh; one that left is stopped, and a command it was running is killed.
 */
import { lstat, readdir, statfs } from 'node:fs/promises';
import { type HostManifest, itemKey, type ManifestHostCheck } from '../../src/protocol/manifest.js';
import type { HostEvent, ItemReport } from '../../src/protocol/messages.js';
import { type Logger, silentLogger } from './deps.js';
import { ARMED, type CheckStatus, type DetectDeps, HostCheckState } from './detect-checks.js';
import { readMountTable } from './detect-mounts.js';
import { errorText } from './errors.js';

/** Check intervals below this are raised to it. */
export const MIN_CHECK_INTERVAL_MS = 100;

/** The HostCheck items of a manifest. */
export function hostChecks(manifest: HostManifest | undefined): ManifestHostCheck[] {
  return (manifest?.items ?? []).filter((i): i is ManifestHostCheck => i.kind === 'HostCheck');
}

/** The real host: statfs, /proc/self/mounts, readdir and lstat. */
export const hostDetectIo: Pick<DetectDeps, 'statfs' | 'mounts' | 'listDir' | 'fileInfo'> = {
  statfs: async (path) => statfs(path),
  mounts: () => readMountTable(),
  listDir: async (path) => {
    try {
      return await readdir(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  },
  fileInfo: async (path) => {
    const st = await lstat(path);
    return st.isFile() ? { size: st.size, mtimeMs: st.mtimeMs } : undefined;
  },
};

export interface HostCheckMonitorDeps extends DetectDeps {
  logger?: Logger;
  onEvent(event: HostEvent): void;
  /** A check's report changed (armed, raised, cannot probe). */
  onStatus(report: ItemReport): void;
}

interface Running {
  state: HostCheckState;
  abort: AbortController;
  timer: NodeJS.Timeout | undefined;
  probing: Promise<void> | undefined;
  /** The last status handed on. */
  reported: CheckStatus;
}

function sameStatus(a: CheckStatus, b: CheckStatus): boolean {
  return a.state === b.state && a.message === b.message;
}

export class HostCheckMonitor {
  private readonly checks = new Map<string, Running>();
  private started = false;

  constructor(private readonly deps: HostCheckMonitorDeps) {}

  /** Replaces the checked set; a check whose hash changed starts afresh (probed at once when started). */
  setChecks(items: readonly ManifestHostCheck[]): void {
    const keys = new Set(items.map((i) => itemKey(i)));
    for (const [key, r] of this.checks) if (!keys.has(key)) this.retire(key, r);
    for (const item of items) {
      const key = itemKey(item);
      const old = this.checks.get(key);
      if (old && old.state.check.hash === item.hash) {
        // An apply reports every check as armed: say again what a kept check found since.
        if (!sameStatus(old.reported, ARMED)) this.report(old, old.reported);
        continue;
      }
      if (old) this.retire(key, old);
      const r: Running = {
        state: new HostCheckState(item, this.deps),
        abort: new AbortController(),
        timer: undefined,
        probing: undefined,
        reported: ARMED,
      };
      this.checks.set(key, r);
      if (this.started) this.schedule(r, 0);
    }
  }

  /** Starts probing: each check at once, then on its interval. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const r of this.checks.values()) this.schedule(r, 0);
  }

  /** Stops every check (a running command is killed) and waits for probes in progress. */
  async stop(): Promise<void> {
    this.started = false;
    const probing = [...this.checks.values()].map((r) => {
      clearTimeout(r.timer);
      r.abort.abort();
      return r.probing;
    });
    await Promise.all(probing);
  }

  /** Probes one check now (not while a probe of it runs); resolves when its events are handed on. */
  probe(key: string): Promise<void> {
    const r = this.checks.get(key);
    if (!r) return Promise.resolve();
    r.probing ??= this.runProbe(r).finally(() => {
      r.probing = undefined;
    });
    return r.probing;
  }

  private schedule(r: Running, delayMs: number): void {
    clearTimeout(r.timer);
    r.timer = setTimeout(() => {
      r.timer = undefined;
      this.probe(r.state.key)
        .catch(() => {}) // runProbe logs its failures: a probe never rejects
        .finally(() => {
          if (this.started && this.checks.get(r.state.key) === r)
            this.schedule(r, Math.max(MIN_CHECK_INTERVAL_MS, r.state.check.intervalMs));
        });
    }, delayMs);
    r.timer.unref();
  }

  private async runProbe(r: Running): Promise<void> {
    try {
      const outcome = await r.state.probe(r.abort.signal);
      if (this.checks.get(r.state.key) !== r) return; // changed or removed meanwhile
      for (const event of outcome.events) this.deps.onEvent(event);
      if (!sameStatus(outcome.status, r.reported)) this.report(r, outcome.status);
    } catch (err) {
      (this.deps.logger ?? silentLogger).error('host check: probe failed', {
        check: r.state.key,
        err: errorText(err),
      });
    }
  }

  private report(r: Running, status: CheckStatus): void {
    r.reported = status;
    const { name, hash } = r.state.check;
    this.deps.onStatus({ kind: 'HostCheck', name, hash, state: status.state, message: status.message });
  }

  private retire(key: string, r: Running): void {
    clearTimeout(r.timer);
    r.abort.abort();
    this.checks.delete(key);
  }
}
