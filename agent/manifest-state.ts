/**
 * The manifest the agent holds and what it last knows of each item: resolves a `manifest` message (full, or
 * a delta against the held one), applies it (pending on disk first, converge, commit, report), reacts to
 * drift of its files and keeps the per-item reports every `report` carries.
 */
import { randomUUID } from 'node:crypto';
import { applyManifestDelta } from '../src/protocol/apply-delta.js';
import {
  type HostManifest,
  itemKey,
  type ManifestConfigFile,
  type ManifestProcessWatch,
} from '../src/protocol/manifest.js';
import type {
  DryRunMessage,
  ItemReport,
  ManifestMessage,
  ObservedFileReport,
  ReportMessage,
  SpooledMessage,
} from '../src/protocol/messages.js';
import {
  type ConvergeDeps,
  convergeConfigFile,
  convergeManifest,
  type DriftReport,
  dryRunConfigFile,
  dryRunManifest,
  observedFileReport,
  observeFile,
  type ProbeResult,
  processItemReport,
  resolveManagedSafe,
} from './engine/index.js';
import { execResultMessage } from './exec-tasks.js';
import { passiveItemReports } from './item-reports.js';
import type { ManifestFiles } from './manifest-files.js';

export interface ManifestStateDeps {
  files: ManifestFiles;
  /** Reports of the AgentVersion items (the upgrader decides, and starts an upgrade one asks for). */
  versionReports(manifest: HostManifest): Promise<ItemReport[]>;
  /** The converge's deps (root, ledgers, write guard, task runner, probe). */
  convergeDeps(): ConvergeDeps;
  /** Tells the drift watcher which files are managed, before a converge writes them. */
  guardFiles(files: ManifestConfigFile[]): void;
  /** Points the watchers (drift, processes, remediation) at a manifest now held. */
  watch(manifest: HostManifest): void;
  /** Spools a message in the outbox. */
  send(msg: SpooledMessage): Promise<void>;
}

/** The held manifest and its item reports; one per agent, driven through the agent's apply queue. */
export class ManifestState {
  private manifest: HostManifest | undefined;
  private readonly items = new Map<string, ItemReport>();

  constructor(
    private readonly deps: ManifestStateDeps,
    held: HostManifest | undefined,
  ) {
    this.manifest = held;
  }

  /** The manifest applied last. */
  get current(): HostManifest | undefined {
    return this.manifest;
  }

  /**
   * A `manifest` message: a delta that does not fit the held manifest asks for the full one instead. An
   * empty delta on the manifest held is a re-verify (the controller restarted, or lost this agent's
   * report): it reports every item but leaves alone what selfHeal leaves alone. A sync or a retry comes
   * as the full manifest, and applies everything.
   */
  async onManifest(msg: ManifestMessage): Promise<void> {
    const target = msg.mode === 'full' ? msg.manifest : applyManifestDelta(this.manifest, msg);
    if (!target) {
      await this.deps.send(this.report({ needFull: true }));
      return;
    }
    await this.apply(target, { verify: isReverify(msg) });
  }

  /**
   * Converges a manifest and reports. The target is written to disk first, as pending, so an agent killed
   * mid-apply finishes this apply when it restarts instead of trusting a half-applied host.
   */
  async apply(target: HostManifest, options: { verify?: boolean } = {}): Promise<void> {
    const previous = this.manifest;
    // The held manifest is already on disk as applied: applying it again (a restarted controller's re-verify,
    // a sync) needs no pending mark, no commit, no fsync. A run cut short applies it again.
    const again = previous !== undefined && sameManifest(previous, target);
    if (!again) await this.deps.files.writePending(target);
    // The drift watcher must know the files before the converge: its write guard (begin/end) is what arms
    // a file for drift detection, and it ignores paths it does not know yet.
    this.deps.guardFiles(configFiles(target));
    const leave = again && options.verify ? await this.driftLeftAlone(target) : undefined;
    const result = await convergeManifest(target, previous, this.deps.convergeDeps(), { leave });
    for (const exec of result.execs) await this.deps.send(execResultMessage(exec.taskId, exec.reason, exec));
    this.manifest = target;
    if (again) this.deps.files.dropPending();
    else await this.deps.files.commit(target);
    this.items.clear();
    const versions = await this.deps.versionReports(target);
    for (const item of [...result.items, ...versions, ...passiveItemReports(target)]) {
      this.items.set(`${item.kind}/${item.name}`, item);
    }
    this.deps.watch(target);
    await this.deps.send(this.report({ pruned: result.pruned }));
  }

  /**
   * After a restart that found the held manifest fully applied: rebuilds its item reports (a restart forgets
   * them) by reading only, as a dry run of it over itself does. A file that differs is `drifted` until the
   * drift it is reported as says otherwise; AgentVersion items are the upgrader's, as in an apply.
   */
  async restore(): Promise<void> {
    const held = this.manifest;
    if (!held) return;
    const keys = new Set(held.items.map(itemKey));
    const observed = await dryRunManifest(held, held, this.deps.convergeDeps());
    this.items.clear();
    for (const item of observed.items) {
      const key = `${item.kind}/${item.name}`;
      if (!keys.has(key) || (item.kind !== 'ConfigFile' && item.kind !== 'ProcessWatch')) continue;
      const differs = item.state === 'changed';
      this.items.set(
        key,
        differs ? { ...item, state: 'drifted', message: `differs on disk: ${item.message}` } : item,
      );
    }
    for (const item of [...(await this.deps.versionReports(held)), ...passiveItemReports(held)])
      this.items.set(`${item.kind}/${item.name}`, item);
  }

  /**
   * Sends a report of every item of the held manifest (after `restore`, once the drift found is handled).
   * Nothing when `restore` failed: a report naming no item would turn every resource Progressing.
   */
  async reportHeld(): Promise<void> {
    const held = this.manifest;
    if (!held || (this.items.size === 0 && held.items.length > 0)) return;
    await this.deps.send(this.report({}));
  }

  /**
   * A file reported drifted and not healed (selfHeal off) matches the manifest again: put back by hand. Its
   * report says so. Any other state (healed, failed, changed by an apply since) already says what is true.
   */
  async onResolved(key: string): Promise<void> {
    const item = this.manifest?.items.find(
      (i): i is ManifestConfigFile => i.kind === 'ConfigFile' && itemKey(i) === key,
    );
    const last = this.items.get(key);
    if (!item || last?.state !== 'drifted' || last.hash !== item.hash) return;
    this.items.set(key, {
      kind: 'ConfigFile',
      name: item.name,
      hash: item.hash,
      state: 'ok',
      observedHash: item.contentHash,
      message: 'in sync again: the file on disk matches Git',
    });
    await this.deps.send(this.report({}));
  }

  /**
   * The held manifest's files with selfHeal off that differ on disk (read only), each with its report:
   * `drifted`, left as it is. A re-verify must not heal what the drift watcher was told to leave.
   */
  private async driftLeftAlone(target: HostManifest): Promise<Map<string, ItemReport>> {
    const leave = new Map<string, ItemReport>();
    const deps = this.deps.convergeDeps();
    for (const item of configFiles(target)) {
      if (item.selfHeal) continue;
      const found = await dryRunConfigFile(item, deps);
      if (found.state !== 'changed') continue;
      leave.set(itemKey(item), {
        ...found,
        state: 'drifted',
        message: `differs on disk, left as it is (selfHeal off): ${found.message}`,
      });
    }
    return leave;
  }

  /** A managed file changed by hand: report it, and heal it when the resource's policy says selfHeal. */
  async onDrift(r: DriftReport): Promise<void> {
    const item = this.manifest?.items.find(
      (i): i is ManifestConfigFile => i.kind === 'ConfigFile' && itemKey(i) === r.key,
    );
    // A report about the content an older manifest wanted is stale: this apply already replaced it.
    if (!item || r.expectedHash !== item.contentHash) return;
    let healed = false;
    let observedHash = r.observedHash;
    let message: string | undefined;
    if (item.selfHeal) {
      const result = await convergeConfigFile(item, this.deps.convergeDeps());
      healed = result.state !== 'failed';
      observedHash = result.observedHash;
      message = result.message;
    }
    const observed = healed ? undefined : await this.observed(item);
    const base: ItemReport = {
      kind: 'ConfigFile',
      name: item.name,
      hash: item.hash,
      // A heal that was refused (a symlink planted at the path, say) is a failure, not mere drift.
      state: healed ? 'changed' : item.selfHeal ? 'failed' : 'drifted',
      observedHash,
      ...(!healed && r.observedOwner ? { observedOwner: r.observedOwner } : {}),
      ...(observed ? { observed } : {}),
      ...(message ? { message } : { message: healed ? `healed: ${r.detail}` : `drifted: ${r.detail}` }),
    };
    this.items.set(r.key, base);
    const report = this.report({});
    const drifted = report.items.find((i) => `${i.kind}/${i.name}` === r.key);
    if (drifted) drifted.drift = { detectedAt: r.detectedAt, healed, detail: r.detail };
    await this.deps.send(report);
  }

  /**
   * A `dryRun`: what applying its manifest over the held one would change, answered by a report carrying
   * `dryRunOf`. Reads only; the held manifest and its item reports stay as they are.
   */
  async dryRun(msg: DryRunMessage): Promise<void> {
    const result = await dryRunManifest(msg.manifest, this.manifest, this.deps.convergeDeps());
    await this.deps.send({
      v: 1,
      type: 'report',
      id: randomUUID(),
      manifestHash: msg.manifest.hash,
      revision: msg.manifest.revision,
      items: withinContentBudget(result.items),
      dryRunOf: msg.id,
      ...(result.pruned.length > 0 ? { pruned: result.pruned } : {}),
    });
  }

  /** What is on disk at a drifted file, for the report (undefined when it cannot be read safely). */
  private async observed(item: ManifestConfigFile): Promise<ObservedFileReport | undefined> {
    const deps = this.deps.convergeDeps();
    try {
      const abs = await resolveManagedSafe(deps.root, item.path, deps.stateDir);
      return observedFileReport(item, await observeFile(abs, item.path));
    } catch {
      return { exists: true, contentOmitted: 'unreadable' };
    }
  }

  /** A watched process changed state: report it when the held manifest watches it. */
  async onProcessStatus(resource: string, status: ProbeResult | undefined): Promise<void> {
    const watch = this.manifest?.items.find(
      (i): i is ManifestProcessWatch => i.kind === 'ProcessWatch' && itemKey(i) === resource,
    );
    if (!watch || !status) return;
    this.items.set(itemKey(watch), processItemReport(watch, status));
    await this.deps.send(this.report({}));
  }

  /** An item's state changed outside an apply (an upgrade failed): report it when the held manifest has it. */
  async updateItem(report: ItemReport): Promise<void> {
    const key = `${report.kind}/${report.name}`;
    const held = this.manifest?.items.find((i) => itemKey(i) === key);
    if (!held || held.hash !== report.hash) return;
    this.items.set(key, report);
    await this.deps.send(this.report({}));
  }

  /** A report of every item's last known state. */
  report(extra: { needFull?: boolean; pruned?: string[] }): ReportMessage {
    return {
      v: 1,
      type: 'report',
      id: randomUUID(),
      manifestHash: this.manifest?.hash ?? '',
      revision: this.manifest?.revision ?? '',
      items: withinContentBudget([...this.items.values()]),
      ...(extra.needFull ? { needFull: true } : {}),
      ...(extra.pruned && extra.pruned.length > 0 ? { pruned: extra.pruned } : {}),
    };
  }
}

/** Bytes of observed file content one report carries at most (the frame limit is 4 MiB). */
export const REPORT_CONTENT_BUDGET_BYTES = 1024 * 1024;

/** Copies of the reports, observed contents past the report's budget dropped (`too large`). */
function withinContentBudget(items: ItemReport[]): ItemReport[] {
  let left = REPORT_CONTENT_BUDGET_BYTES;
  return items.map((i) => {
    const content = i.observed?.content;
    if (content === undefined) return { ...i };
    const bytes = Buffer.byteLength(content);
    if (bytes <= left) {
      left -= bytes;
      return { ...i };
    }
    const { content: _dropped, ...rest } = i.observed as ObservedFileReport;
    return { ...i, observed: { ...rest, contentOmitted: 'too large' } };
  });
}

/** An empty delta on the manifest it names as its base: the controller asks for a re-verify, no change. */
function isReverify(msg: ManifestMessage): boolean {
  return (
    msg.mode === 'delta' && msg.baseHash === msg.hash && msg.upsert.length === 0 && msg.remove.length === 0
  );
}

/**
 * Whether two manifests are the same on disk: the items (their hash), the revision they were planned from,
 * the host and its labels.
 */
export function sameManifest(a: HostManifest, b: HostManifest): boolean {
  return (
    a.hash === b.hash &&
    a.revision === b.revision &&
    a.hostId === b.hostId &&
    JSON.stringify(a.labels) === JSON.stringify(b.labels)
  );
}

/** The ConfigFile items of a manifest. */
export function configFiles(manifest: HostManifest): ManifestConfigFile[] {
  return manifest.items.filter((i): i is ManifestConfigFile => i.kind === 'ConfigFile');
}
