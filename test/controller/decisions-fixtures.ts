/** Builders for the reconciler's pure decision tables: manifests, reports and host runtimes. */
import type { HostRuntime } from '../../src/controller/host-runtime.js';
import type { HostManifest, ManifestItem } from '../../src/protocol/manifest.js';
import type { ItemReport, ReportMessage } from '../../src/protocol/messages.js';

/** A ConfigFile manifest item `name` at version `hash`. */
export function fileItem(name: string, hash = `i-${name}`): ManifestItem {
  return {
    kind: 'ConfigFile',
    name,
    hash,
    path: `/etc/${name}`,
    content: name,
    encoding: 'utf8',
    contentHash: `c-${name}`,
    mode: 0o644,
    selfHeal: true,
    prune: false,
  };
}

/** A manifest `hash` for host h1 holding `items`. */
export function manifest(hash: string, items: ManifestItem[] = [fileItem('a')]): HostManifest {
  return { hostId: 'h1', revision: `rev-${hash}`, labels: { role: 'web' }, hash, items };
}

/** What the agent says about one item. */
export function itemReport(
  name: string,
  state: ItemReport['state'],
  extra: Partial<ItemReport> = {},
): ItemReport {
  return { kind: 'ConfigFile', name, hash: `i-${name}`, state, ...extra };
}

/** A report of manifest `manifestHash` at `revision`. */
export function report(
  manifestHash: string,
  items: ItemReport[],
  extra: Partial<ReportMessage> = {},
): ReportMessage {
  return { v: 1, type: 'report', id: 'r1', manifestHash, revision: 'rev-2', items, ...extra };
}

/** A connected host h1 that should hold M2 and has reported nothing; `extra` changes any field. */
export function runtime(extra: Partial<HostRuntime> = {}): HostRuntime {
  return {
    facts: { id: 'h1', name: 'web-1', ips: ['10.0.0.1'], cloudId: 0, labels: { own: 'x' } },
    connected: true,
    firstSeen: '2026-01-01T00:00:00.000Z',
    lastSeen: '2026-01-01T00:00:05.000Z',
    desired: manifest('M2'),
    planErrors: [],
    sent: new Map(),
    items: [],
    syncState: 'Unknown',
    ...extra,
  };
}
