/**
 * The agent's side of an upgrade, injected through AgentDeps. It reports the AgentVersion items (decide.ts)
 * and, when one asks for another version, upgrades in the background: record `downloading`, download and
 * verify (download.ts), unpack beside the running version (unpack.ts), `switching`, switch `current`,
 * `switched`, then ask the process to restart (exit 75: the launcher starts the new version). A version
 * that finds the record `switched` to itself marks it `healthy` once a report of its own was acked. Every
 * step is restartable: a killed agent resumes the download, or the launcher finishes the switch. Once
 * healthy, version dirs other than the new one, the one before and the launcher's are removed.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Clock, errorText, type Logger } from '../../src/kernel/index.js';
import type { HostManifest, ManifestAgentVersion } from '../../src/protocol/manifest.js';
import type { ItemReport } from '../../src/protocol/messages.js';
import { decideAgentVersion, mustReapplyOnStart, type VersionDecision } from './decide.js';
import { downloadArtifact } from './download.js';
import { installLayout, linkedVersion, normalizeVersion, switchLink } from './layout.js';
import {
  readUpgradeRecord,
  type UpgradeRecord,
  type UpgradeState,
  withFailure,
  withState,
  writeUpgradeRecord,
} from './record.js';
import { unpackVersion } from './unpack.js';

/** What the agent asks of its upgrader. */
export interface Upgrader {
  /** Reports for the AgentVersion items of `manifest`; starts the upgrade one of them asks for. */
  versionReports(manifest: HostManifest): Promise<ItemReport[]>;
  /** Whether the held manifest must be re-applied at start (an upgrade left something to report). */
  mustReapply(): Promise<boolean>;
  /** True while a report of this process being acked means something (health, a failure reported). */
  readonly wantsAck: boolean;
  /** A report this process spooled was acked by the controller. */
  reportAcked(): Promise<void>;
}

/** What the agent gives its upgrader. */
export interface UpgraderContext {
  /** The version this process runs. */
  running: string;
  /** The agent's controller URL (`wss://HOST:PORT/agent`): relative artifact URLs resolve against it. */
  controllerUrl: string;
  /** The CA pinned for the controller. */
  ca?: string | Buffer;
  /** The agent's id and credential (sent only to the controller's own origin). */
  credentials(): { agentId: string; credential?: string };
  /** Replaces the item's report and sends a report (through the agent's apply queue). */
  report(item: ItemReport): Promise<void>;
  clock: Clock;
  logger: Logger;
}

/** Builds an agent's upgrader once the agent knows its context. */
export type UpgraderFactory = (ctx: UpgraderContext) => Upgrader;

/** The report of a decision for `item`. */
export function versionReport(item: ManifestAgentVersion, d: VersionDecision): ItemReport {
  return { kind: item.kind, name: item.name, hash: item.hash, state: d.state, message: d.message };
}

function agentVersions(manifest: HostManifest): ManifestAgentVersion[] {
  return manifest.items.filter((i): i is ManifestAgentVersion => i.kind === 'AgentVersion');
}

/** An agent not started by a launcher: it reports, and says it cannot upgrade itself. */
export const launcherlessUpgrader: UpgraderFactory = (ctx) => ({
  wantsAck: false,
  async versionReports(manifest) {
    return agentVersions(manifest).map((item) =>
      versionReport(
        item,
        decideAgentVersion({ item, running: ctx.running, installDir: undefined, record: { failed: [] } }),
      ),
    );
  },
  mustReapply: async () => false,
  reportAcked: async () => {},
});

/**
 * The artifact URL as fetched: absolute as given, or a controller path resolved against the agent's controller
 * URL (wss -> https, ws -> http); `sameOrigin` says whether the agent's credential may go with it.
 */
export function resolveArtifactUrl(url: string, controllerUrl: string): { url: string; sameOrigin: boolean } {
  const base = new URL(controllerUrl);
  base.protocol = base.protocol === 'wss:' ? 'https:' : base.protocol === 'ws:' ? 'http:' : base.protocol;
  const resolved = new URL(url, base);
  return { url: resolved.toString(), sameOrigin: resolved.origin === base.origin };
}

export interface InstallUpgraderOptions {
  /** The install dir the launcher passed (INSTALL_DIR_ENV). */
  installDir: string;
  /** Ends the process with EXIT_RESTART_NEW_VERSION after stopping the agent cleanly. */
  restart(): void;
}

/** The real upgrader of an agent run by `gse-agent launch`. */
export function installUpgrader(opts: InstallUpgraderOptions): UpgraderFactory {
  return (ctx) => new InstallUpgrader(opts, ctx);
}

class InstallUpgrader implements Upgrader {
  private readonly layout;
  private inProgress: { to: string; sha256: string; attempt: number } | undefined;
  private ackWanted = true;

  constructor(
    private readonly opts: InstallUpgraderOptions,
    private readonly ctx: UpgraderContext,
  ) {
    this.layout = installLayout(opts.installDir);
  }

  get wantsAck(): boolean {
    return this.ackWanted;
  }

  async versionReports(manifest: HostManifest): Promise<ItemReport[]> {
    const record = await readUpgradeRecord(this.layout.record);
    const reports: ItemReport[] = [];
    for (const item of agentVersions(manifest)) {
      const d = decideAgentVersion({
        item,
        running: this.ctx.running,
        installDir: this.opts.installDir,
        record,
        ...(this.inProgress ? { inProgress: this.inProgress } : {}),
      });
      if (d.action === 'upgrade' && item.artifact && !this.inProgress) {
        const artifact = item.artifact;
        this.inProgress = { to: item.version, sha256: artifact.sha256, attempt: item.attempt };
        this.upgrade(item, artifact, record).catch((err: unknown) => {
          this.ctx.logger.error('upgrade bookkeeping failed', { error: errorText(err) });
        });
      }
      reports.push(versionReport(item, d));
    }
    return reports;
  }

  async mustReapply(): Promise<boolean> {
    const record = await readUpgradeRecord(this.layout.record);
    this.ackWanted = mustReapplyOnStart(record);
    return this.ackWanted;
  }

  async reportAcked(): Promise<void> {
    const record = await readUpgradeRecord(this.layout.record);
    const cur = record.current;
    if (cur?.state === 'switched' && normalizeVersion(cur.to) === normalizeVersion(this.ctx.running)) {
      await writeUpgradeRecord(this.layout.record, withState(record, 'healthy', this.iso()));
      this.ctx.logger.info('upgrade healthy', { from: cur.from, to: cur.to });
      await this.prune([cur.to, cur.from]).catch((err: unknown) => {
        this.ctx.logger.warn('cannot remove old versions', { error: errorText(err) });
      });
    } else if (cur?.state === 'failed' && !cur.reported) {
      await writeUpgradeRecord(this.layout.record, { ...record, current: { ...cur, reported: true } });
    }
    this.ackWanted = false;
  }

  /** Removes the version dirs other than `keep` and the launcher's (`from` stays, for a quick undo). */
  private async prune(keep: string[]): Promise<void> {
    const launcher = await linkedVersion(this.layout.launcher);
    const kept = new Set([...keep, ...(launcher ? [launcher] : [])]);
    for (const name of await readdir(this.layout.versions)) {
      if (kept.has(name)) continue;
      await rm(join(this.layout.versions, name), { recursive: true, force: true });
    }
  }

  /** The upgrade steps; a failure is recorded (never retried for this attempt) and reported. */
  private async upgrade(
    item: ManifestAgentVersion,
    artifact: { sha256: string; url: string },
    before: UpgradeRecord,
  ): Promise<void> {
    const { running, logger } = this.ctx;
    let record: UpgradeRecord = {
      current: {
        from: running,
        to: item.version,
        sha256: artifact.sha256,
        attempt: item.attempt,
        url: artifact.url,
        healthDeadlineMs: item.healthDeadlineMs,
        state: 'downloading',
        at: this.iso(),
      },
      failed: before.failed,
    };
    const step = async (state: UpgradeState) => {
      record = withState(record, state, this.iso());
      await writeUpgradeRecord(this.layout.record, record);
    };
    try {
      await writeUpgradeRecord(this.layout.record, record);
      logger.info('upgrading', { from: running, to: item.version, url: artifact.url });
      const { url, sameOrigin } = resolveArtifactUrl(artifact.url, this.ctx.controllerUrl);
      const { agentId, credential } = this.ctx.credentials();
      const headers: Record<string, string> =
        sameOrigin && credential
          ? { authorization: `Basic ${Buffer.from(`${agentId}:${credential}`).toString('base64')}` }
          : {};
      await mkdir(this.layout.downloads, { recursive: true, mode: 0o755 });
      const dest = join(
        this.layout.downloads,
        `gse-agent-${item.version}-${artifact.sha256.slice(0, 12)}.tgz`,
      );
      await downloadArtifact({
        url,
        dest,
        sha256: artifact.sha256,
        headers,
        ...(sameOrigin && this.ctx.ca ? { ca: this.ctx.ca } : {}),
      });
      // Neither the running version nor the one whose code runs the launcher is ever replaced.
      const launcher = await linkedVersion(this.layout.launcher);
      await unpackVersion({
        tgz: dest,
        versionsDir: this.layout.versions,
        version: item.version,
        sha256: artifact.sha256,
        inUse: (v) => normalizeVersion(v) === normalizeVersion(running) || v === launcher,
      });
      await rm(dest, { force: true });
      await step('unpacked');
      await step('switching');
      await switchLink(this.layout.current, item.version);
      await step('switched');
    } catch (err) {
      const reason = errorText(err);
      logger.warn('upgrade failed', { from: running, to: item.version, error: reason });
      record = withFailure(record, reason, this.iso());
      await writeUpgradeRecord(this.layout.record, record);
      this.inProgress = undefined;
      this.ackWanted = true;
      const d = decideAgentVersion({ item, running, installDir: this.opts.installDir, record });
      await this.ctx.report(versionReport(item, d));
      return;
    }
    logger.info('switched; restarting into the new version', { from: running, to: item.version });
    this.opts.restart();
  }

  private iso(): string {
    return new Date(this.ctx.clock.now()).toISOString();
  }
}

export interface SimulatedUpgraderOptions {
  /** Stands in for download, unpack and restart; default SIMULATED_UPGRADE_DELAY_MS. */
  delayMs?: number;
  /** This instance was just "restarted" into a new version: it re-reports its manifest at start. */
  restarted?: boolean;
  /** Replaces the instance with one running `version` (same state dir). */
  restart(version: string): Promise<void>;
}

/** How long a simulated agent takes to "download and restart". */
export const SIMULATED_UPGRADE_DELAY_MS = 50;

/** For `gse-agent simulate`: an upgrade is a wait and a restart of the instance reporting the new version. */
export function simulatedUpgrader(opts: SimulatedUpgraderOptions): UpgraderFactory {
  return (ctx) => {
    let inProgress: { to: string; sha256: string; attempt: number } | undefined;
    let reapply = opts.restarted === true;
    return {
      get wantsAck() {
        return false;
      },
      async versionReports(manifest) {
        return agentVersions(manifest).map((item) => {
          const d = decideAgentVersion({
            item,
            running: ctx.running,
            installDir: 'simulated',
            record: { failed: [] },
            ...(inProgress ? { inProgress } : {}),
          });
          if (d.action === 'upgrade' && item.artifact && !inProgress) {
            inProgress = { to: item.version, sha256: item.artifact.sha256, attempt: item.attempt };
            const to = item.version;
            const wait = new Promise<void>((r) => setTimeout(r, opts.delayMs ?? SIMULATED_UPGRADE_DELAY_MS));
            wait
              .then(() => opts.restart(to))
              .catch((err: unknown) => {
                inProgress = undefined;
                ctx.logger.error('simulated upgrade failed', { error: errorText(err) });
              });
          }
          return versionReport(item, d);
        });
      },
      async mustReapply() {
        const r = reapply;
        reapply = false;
        return r;
      },
      reportAcked: async () => {},
    };
  };
}
