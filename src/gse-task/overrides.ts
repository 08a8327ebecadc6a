/**
 * Desired state that a GSE process operation sets (bk-nodeman's stop, delegate, undelegate): which
 * ProcessWatch on which host must be kept running or only observed. It is laid over every plan
 * (`applyProcessOverrides`, pure), so a reconcile never undoes an operation. Two places hold it: Git, as
 * ProcessOverride documents (`holdsOfRevision`; the write-back commits them, src/gse-write/plan-process.ts),
 * and, when write-back is off, the store (`StoredProcessOverrides`, state key `gse/process-overrides`).
 * `DesiredStateOverride` is the hook the process calls write through, whichever holds it.
 */
import { hashValue } from '../controller/hash.js';
import { manifestHash } from '../controller/plan.js';
import type { HostManifest, ManifestItem } from '../protocol/manifest.js';
import type { Revision } from '../spec/types.js';
import type { JsonValue, Store } from '../store/types.js';

/** One host's ProcessWatch held at an `ensure` other than Git's. */
export interface ProcessOverride {
  hostId: string;
  /** The ProcessWatch's name. */
  name: string;
  ensure: 'running' | 'observed';
  /** The operation that set it (`stop`, `delegate`, `undelegate`). */
  op: string;
  /** Who asked (the API caller's name). */
  by: string;
  /** ISO time it was set. */
  at: string;
}

/** The hook through which process operations change desired state. */
export interface DesiredStateOverride {
  /** The overrides of one host (synchronous: asked on every re-plan). */
  forHost(hostId: string): readonly ProcessOverride[];
  /** Sets (or replaces) the overrides of these hosts' watches at once; resolves once they are durable. */
  setAll(overrides: readonly ProcessOverride[]): Promise<void>;
  /** Drops the override of one host's watch (Git's `ensure` holds again); resolves once durable. */
  clear(hostId: string, name: string): Promise<void>;
}

/** The store key of the overrides. */
export const PROCESS_OVERRIDES_KEY = 'gse/process-overrides';

/**
 * `manifest` with each override's `ensure` on the ProcessWatch it names, the item and manifest hashes
 * recomputed as the planner computes them (pure). Overrides naming no watch of the manifest are ignored.
 */
export function applyProcessOverrides(
  manifest: HostManifest,
  overrides: readonly ProcessOverride[],
): HostManifest {
  if (overrides.length === 0) return manifest;
  const byName = new Map(overrides.map((o) => [o.name, o.ensure]));
  let changed = false;
  const items = manifest.items.map((item): ManifestItem => {
    if (item.kind !== 'ProcessWatch') return item;
    const ensure = byName.get(item.name);
    if (ensure === undefined || ensure === item.ensure) return item;
    changed = true;
    const { hash: _hash, ...rest } = item;
    const next = { ...rest, ensure };
    return { ...next, hash: hashValue(next) };
  });
  return changed ? { ...manifest, items, hash: manifestHash(manifest.labels, items) } : manifest;
}

const holdsCache = new WeakMap<Revision, Map<string, ProcessOverride[]>>();

/** The ProcessOverride documents of a revision, by host id (pure; computed once per revision). */
export function holdsOfRevision(
  revision: Revision | undefined,
): ReadonlyMap<string, readonly ProcessOverride[]> {
  if (!revision) return new Map();
  const cached = holdsCache.get(revision);
  if (cached) return cached;
  const byHost = new Map<string, ProcessOverride[]>();
  for (const doc of revision.byKind.ProcessOverride) {
    const by = doc.metadata.annotations?.['gse-gitops/written-by'] ?? 'git';
    for (const [hostId, hold] of Object.entries(doc.spec.hosts)) {
      const list = byHost.get(hostId) ?? [];
      list.push({ hostId, name: doc.spec.watch, ensure: hold.ensure, op: hold.op ?? 'git', by, at: '' });
      byHost.set(hostId, list);
    }
  }
  holdsCache.set(revision, byHost);
  return byHost;
}

function isOverrideList(v: JsonValue): v is JsonValue[] {
  return (
    Array.isArray(v) &&
    v.every(
      (o) =>
        typeof o === 'object' &&
        o !== null &&
        !Array.isArray(o) &&
        typeof o.hostId === 'string' &&
        typeof o.name === 'string' &&
        (o.ensure === 'running' || o.ensure === 'observed'),
    )
  );
}

/** The overrides kept in the store, cached in memory for the planner. */
export class StoredProcessOverrides implements DesiredStateOverride {
  private readonly byHost = new Map<string, ProcessOverride[]>();
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly store: Pick<Store, 'getState' | 'setState'>,
    /** Told after each change (the controller re-plans). */
    private readonly changed: () => Promise<void>,
  ) {}

  /** Loads the overrides from the store. */
  static async open(
    store: Pick<Store, 'getState' | 'setState'>,
    changed: () => Promise<void> = async () => {},
  ): Promise<StoredProcessOverrides> {
    const o = new StoredProcessOverrides(store, changed);
    const list = (await store.getState(PROCESS_OVERRIDES_KEY, isOverrideList)) ?? [];
    for (const item of list as unknown as ProcessOverride[]) o.put(item);
    return o;
  }

  forHost(hostId: string): readonly ProcessOverride[] {
    return this.byHost.get(hostId) ?? [];
  }

  /** Every override, by host then name. */
  all(): ProcessOverride[] {
    return [...this.byHost.values()].flat();
  }

  setAll(overrides: readonly ProcessOverride[]): Promise<void> {
    return this.write(() => {
      for (const o of overrides) this.put(o);
    });
  }

  clear(hostId: string, name: string): Promise<void> {
    return this.write(() => {
      const left = this.forHost(hostId).filter((o) => o.name !== name);
      if (left.length === 0) this.byHost.delete(hostId);
      else this.byHost.set(hostId, left);
    });
  }

  private put(o: ProcessOverride): void {
    const list = this.forHost(o.hostId).filter((x) => x.name !== o.name);
    this.byHost.set(o.hostId, [...list, o]);
  }

  /** Changes are written one at a time, each as the whole list. */
  private write(change: () => void): Promise<void> {
    const run = this.writes.then(async () => {
      change();
      await this.store.setState(PROCESS_OVERRIDES_KEY, this.all() as unknown as JsonValue);
      await this.changed();
    });
    this.writes = run.catch(() => {});
    return run;
  }
}
