/** Pure decisions of a manifest apply: which ConfigFiles to converge and which left files to prune. */
import { type HostManifest, itemKey, type ManifestConfigFile } from '../../src/protocol/manifest.js';

export interface PruneAction {
  /** Key of the previous item that declared the file. */
  key: string;
  path: string;
  /** The key left the manifest (not merely its path changed): report it in `pruned`. */
  keyLeft: boolean;
}

export interface KeptFile {
  key: string;
  path: string;
  reason: 'prune disabled' | 'not created by this agent';
}

export interface FileActionPlan {
  /** Every ConfigFile of the manifest, in manifest order (each apply compares with the disk). */
  apply: ManifestConfigFile[];
  prune: PruneAction[];
  /** Files that left the manifest but stay on disk, and why. */
  keep: KeptFile[];
}

/** The ConfigFile items of a manifest. */
export function configFiles(manifest: HostManifest | undefined): ManifestConfigFile[] {
  return (manifest?.items ?? []).filter((i): i is ManifestConfigFile => i.kind === 'ConfigFile');
}

/**
 * Plans the file side of an apply: converge every current ConfigFile; prune a previous file whose path no
 * current item declares only when its item had `prune: true` and this agent created the file (`owned`).
 */
export function planFileActions(
  manifest: HostManifest,
  previous: HostManifest | undefined,
  owned: ReadonlySet<string>,
): FileActionPlan {
  const apply = configFiles(manifest);
  const currentPaths = new Set(apply.map((f) => f.path));
  const currentKeys = new Set(manifest.items.map((i) => itemKey(i)));
  const prune: PruneAction[] = [];
  const keep: KeptFile[] = [];
  const seen = new Set<string>();
  for (const old of configFiles(previous)) {
    if (currentPaths.has(old.path) || seen.has(old.path)) continue;
    seen.add(old.path);
    const key = itemKey(old);
    if (!old.prune) keep.push({ key, path: old.path, reason: 'prune disabled' });
    else if (!owned.has(old.path)) keep.push({ key, path: old.path, reason: 'not created by this agent' });
    else prune.push({ key, path: old.path, keyLeft: !currentKeys.has(key) });
  }
  return { apply, prune, keep };
}
