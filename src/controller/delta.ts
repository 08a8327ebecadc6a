/** What to send a host so it holds the desired manifest: the whole manifest, or only what changed. */
import { type HostManifest, itemKey } from '../protocol/manifest.js';
import type { ManifestDeltaMessage, ManifestFullMessage } from '../protocol/messages.js';

/**
 * A delta against the manifest the host is known to hold (`held`), or the full manifest when the host
 * holds nothing we know of, or when the delta would not be smaller than the manifest itself.
 */
export function manifestMessage(
  id: string,
  held: HostManifest | undefined,
  desired: HostManifest,
): ManifestFullMessage | ManifestDeltaMessage {
  const full: ManifestFullMessage = { v: 1, type: 'manifest', id, mode: 'full', manifest: desired };
  if (!held || held.hostId !== desired.hostId) return full;
  const heldByKey = new Map(held.items.map((i) => [itemKey(i), i.hash]));
  const desiredKeys = new Set(desired.items.map(itemKey));
  const upsert = desired.items.filter((i) => heldByKey.get(itemKey(i)) !== i.hash);
  const remove = [...heldByKey.keys()].filter((k) => !desiredKeys.has(k));
  if (upsert.length >= desired.items.length && desired.items.length > 0) return full;
  return {
    v: 1,
    type: 'manifest',
    id,
    mode: 'delta',
    baseHash: held.hash,
    hash: desired.hash,
    revision: desired.revision,
    labels: desired.labels,
    upsert,
    remove,
  };
}
