/**
 * Pure: a preview of a revision that is not committed. Plans it for the known hosts with the planner the
 * reconciler uses and compares, per host, with the manifest each holds as desired now: which resources would
 * be added, changed or removed (with diffs), which hosts each selector would newly pick or drop (manifest
 * resources, and Routes), and what could not be planned. Nothing is sent or stored.
 */
import { type HostFacts, type HostManifest, itemKey } from '../protocol/manifest.js';
import type { Revision } from '../spec/types.js';
import { planHost, selectableHost, type VersionsOf } from './plan.js';
import { desiredDiff, type ResourceDiff } from './resource-diff.js';
import { selectorMatches } from './select.js';

export interface PreviewHost {
  hostId: string;
  name: string;
  added: ResourceDiff[];
  changed: ResourceDiff[];
  removed: ResourceDiff[];
  /** Resources that could not be planned for this host (a template variable it lacks, say). */
  errors: Array<{ resource: string; message: string }>;
}

/** A resource whose selector picks another set of hosts than now. */
export interface SelectorChange {
  resource: string;
  /** Host names it would newly pick. */
  added: string[];
  /** Host names it would no longer pick. */
  dropped: string[];
}

export interface Preview {
  /** The revision id now applied ('' before the first). */
  from: string;
  /** The previewed tree's id (a content hash). */
  to: string;
  /** Hosts where something would change (or fail to plan), by name. */
  hosts: PreviewHost[];
  /** Hosts planned in all. */
  hostCount: number;
  selectors: SelectorChange[];
}

export interface PreviewInput {
  revision: Revision;
  /** The revision applied now, if any (for Route selectors). */
  current: Revision | undefined;
  hosts: HostFacts[];
  /** The manifest a host should hold now. */
  desiredFor(hostId: string): HostManifest | undefined;
  versions?: VersionsOf;
}

/** The preview of `input.revision` against the hosts as they are now. */
export function previewRevision(input: PreviewInput): Preview {
  const hosts: PreviewHost[] = [];
  const before = new Map<string, Set<string>>();
  const after = new Map<string, Set<string>>();
  const note = (map: Map<string, Set<string>>, key: string, name: string) => {
    const set = map.get(key) ?? new Set<string>();
    set.add(name);
    map.set(key, set);
  };
  const sorted = [...input.hosts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const host of sorted) {
    const { manifest, errors } = planHost(input.revision, host, input.versions);
    const now = input.desiredFor(host.id);
    const old = new Map((now?.items ?? []).map((i) => [itemKey(i), i]));
    const next = new Map(manifest.items.map((i) => [itemKey(i), i]));
    for (const key of old.keys()) note(before, key, host.name);
    for (const key of next.keys()) note(after, key, host.name);
    const view: PreviewHost = {
      hostId: host.id,
      name: host.name,
      added: [],
      changed: [],
      removed: [],
      errors: [],
    };
    for (const [key, item] of next) {
      const was = old.get(key);
      if (!was) view.added.push(desiredDiff(undefined, item));
      else if (was.hash !== item.hash) view.changed.push(desiredDiff(was, item));
    }
    for (const [key, item] of old) if (!next.has(key)) view.removed.push(desiredDiff(item, undefined));
    view.errors = errors.map((e) => ({ resource: e.resource, message: e.message }));
    if (view.added.length + view.changed.length + view.removed.length + view.errors.length > 0)
      hosts.push(view);
  }
  for (const host of sorted) {
    for (const route of input.current?.byKind.Route ?? [])
      if (selectorMatches(route.spec.hosts, selectableHost(host, input.current?.byKind.HostGroup ?? [])))
        note(before, `Route/${route.metadata.name}`, host.name);
    for (const route of input.revision.byKind.Route)
      if (selectorMatches(route.spec.hosts, selectableHost(host, input.revision.byKind.HostGroup)))
        note(after, `Route/${route.metadata.name}`, host.name);
  }
  return {
    from: input.current?.id ?? '',
    to: input.revision.id,
    hosts,
    hostCount: sorted.length,
    selectors: selectorChanges(before, after),
  };
}

/** Per resource, the hosts picked after and not before, and before and not after. */
function selectorChanges(
  before: Map<string, Set<string>>,
  after: Map<string, Set<string>>,
): SelectorChange[] {
  const keys = [...new Set([...before.keys(), ...after.keys()])].sort();
  const out: SelectorChange[] = [];
  for (const resource of keys) {
    const a = before.get(resource) ?? new Set<string>();
    const b = after.get(resource) ?? new Set<string>();
    const added = [...b].filter((h) => !a.has(h)).sort();
    const dropped = [...a].filter((h) => !b.has(h)).sort();
    if (added.length + dropped.length > 0) out.push({ resource, added, dropped });
  }
  return out;
}
