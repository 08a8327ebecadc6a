/** The agent's side of a manifest delta: rebuild the full manifest from the one it holds. */
import { compareManifestItems, type HostManifest, itemKey } from './manifest.js';
import type { ManifestDeltaMessage } from './messages.js';

/** The manifest after the delta, or undefined when the delta is not based on `held` (ask for full). */
export function applyManifestDelta(
  held: HostManifest | undefined,
  delta: ManifestDeltaMessage,
): HostManifest | undefined {
  if (!held || held.hash !== delta.baseHash) return undefined;
  const items = new Map(held.items.map((i) => [itemKey(i), i]));
  for (const key of delta.remove) items.delete(key);
  for (const item of delta.upsert) items.set(itemKey(item), item);
  const sorted = [...items.values()].sort(compareManifestItems);
  return {
    hostId: held.hostId,
    revision: delta.revision,
    labels: delta.labels,
    items: sorted,
    hash: delta.hash,
  };
}
