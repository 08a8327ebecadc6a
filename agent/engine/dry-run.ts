/**
 * A dry-run apply: what converging a manifest WOULD change on the host, found by reading only. Nothing is
 * written, no backup is made, no onChange runs and no ledger moves; files are read as the converge reads
 * them (managed paths checked, the leaf opened O_NOFOLLOW).
 */
import {
  type HostManifest,
  itemKey,
  type ManifestConfigFile,
  type ManifestItem,
} from '../../src/protocol/manifest.js';
import type { ItemReport } from '../../src/protocol/messages.js';
import { type ConfigFileDeps, modeText, observeFile, ownerText } from './config-file.js';
import { type ConvergeDeps, processItemReport } from './converge.js';
import { runningAsRoot } from './deps.js';
import { errorText } from './errors.js';
import { observedFileReport } from './observe-report.js';
import { resolveOwner } from './owner.js';
import { planFileActions } from './plan-files.js';
import { processWatches } from './process-watch.js';
import { resolveManagedSafe } from './safe-path.js';

export interface DryRunResult {
  /** One report per item: `ok` (nothing to do), `changed` (would change; `message` says what), `failed`. */
  items: ItemReport[];
  /** Keys of items whose files would be removed because they left the manifest. */
  pruned: string[];
}

/** What applying `manifest` over `previous` (the manifest held) would do; reads only. */
export async function dryRunManifest(
  manifest: HostManifest,
  previous: HostManifest | undefined,
  deps: Pick<ConvergeDeps, 'root' | 'stateDir' | 'ownership' | 'runningAsRoot' | 'userDb' | 'probe'>,
): Promise<DryRunResult> {
  const plan = planFileActions(manifest, previous, deps.ownership.paths());
  const items: ItemReport[] = [];
  for (const file of plan.apply) items.push(await dryRunConfigFile(file, deps));
  const watches = processWatches(manifest);
  const probes = watches.length > 0 && deps.probe ? await deps.probe(watches) : undefined;
  for (const w of watches) {
    const probe = probes?.get(itemKey(w));
    items.push(
      probe ? processItemReport(w, probe) : { kind: w.kind, name: w.name, hash: w.hash, state: 'ok' },
    );
  }
  const held = new Map((previous?.items ?? []).map((i) => [itemKey(i), i]));
  for (const item of manifest.items) {
    if (item.kind === 'ConfigFile' || item.kind === 'ProcessWatch') continue;
    items.push(passiveDryRun(item, held.get(itemKey(item))));
  }
  for (const action of plan.prune) {
    items.push({
      kind: 'ConfigFile',
      name: action.key.slice('ConfigFile/'.length),
      hash: '',
      state: 'changed',
      message: `would remove ${action.path} (left the manifest)`,
    });
  }
  return { items, pruned: plan.prune.filter((p) => p.keyLeft).map((p) => p.key) };
}

/** One file: would it be created, rewritten, chmod-ed or chown-ed, and would its onChange run. */
export async function dryRunConfigFile(
  item: ManifestConfigFile,
  deps: Pick<ConfigFileDeps, 'root' | 'stateDir' | 'runningAsRoot' | 'userDb'>,
): Promise<ItemReport> {
  const base = { kind: 'ConfigFile' as const, name: item.name, hash: item.hash };
  try {
    const abs = await resolveManagedSafe(deps.root, item.path, deps.stateDir);
    const found = await observeFile(abs, item.path);
    const changes: string[] = [];
    if (!found) changes.push(`would create ${item.path}`);
    else {
      if (found.hash !== item.contentHash) changes.push('would change content');
      if (found.mode !== item.mode) changes.push(`mode ${modeText(found.mode)} -> ${modeText(item.mode)}`);
      const asRoot = deps.runningAsRoot ?? runningAsRoot();
      if (item.owner !== undefined && asRoot) {
        const want = await resolveOwner(item.owner, deps.userDb);
        if (found.uid !== want.uid || found.gid !== want.gid)
          changes.push(`owner ${ownerText(found)} -> ${ownerText(want)} (${item.owner})`);
      }
    }
    const contentOrMode = !found || found.hash !== item.contentHash || found.mode !== item.mode;
    if (item.onChange && contentOrMode) changes.push(`onChange would run: ${item.onChange.run}`);
    const observedOwner = found ? { observedOwner: ownerText(found) } : {};
    if (changes.length === 0)
      return { ...base, state: 'ok', observedHash: found?.hash ?? '', ...observedOwner };
    return {
      ...base,
      state: 'changed',
      observedHash: found?.hash ?? '',
      ...observedOwner,
      message: changes.join('; '),
      observed: observedFileReport(item, found),
    };
  } catch (err) {
    return { ...base, state: 'failed', message: `would fail: ${errorText(err)}` };
  }
}

/** Items the apply only hands to a watcher or the upgrader: new or changed when their hash moved. */
function passiveDryRun(item: ManifestItem, held: ManifestItem | undefined): ItemReport {
  const base = { kind: item.kind, name: item.name, hash: item.hash };
  if (held?.hash === item.hash) return { ...base, state: 'ok' };
  const verb = held ? 'would update' : 'would add';
  const what = item.kind === 'AgentVersion' ? ` (version ${item.version})` : '';
  return { ...base, state: 'changed', message: `${verb} ${itemKey(item)}${what}` };
}
