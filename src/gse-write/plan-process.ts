/**
 * Pure: the desired state GSE's process operations set (bk-nodeman's stop, delegate, undelegate; GSE.md §6)
 * -> ProcessOverride file changes under `gse/process/<watch>.yaml`, one file per ProcessWatch, holding each
 * named host's `ensure`. A change with `ensure: null` releases the host (Git's `ensure` holds again); a file
 * left with no host is deleted. A ProcessOverride for the watch declared elsewhere by hand is refused
 * (ConflictError), as for routes.
 */
import type { ProcessHold, ProcessOverride, Revision } from '../spec/types.js';
import { list, type Obj, obj, str } from './call-body.js';
import { ConflictError, InvalidCallError, NotFoundError } from './errors.js';
import { processFile, WRITE_DIRS, WRITTEN_BY_ANNOTATION, type WritePlan, yamlDoc } from './layout.js';

/** One host's hold on one watch to set (`ensure`) or release (`ensure: null`). */
export interface HoldChange {
  hostId: string;
  watch: string;
  ensure: ProcessHold['ensure'] | null;
  op?: NonNullable<ProcessHold['op']>;
}

const OPS: ReadonlySet<string> = new Set(['stop', 'delegate', 'undelegate']);

function readChange(v: unknown, path: string): HoldChange {
  const o = obj(v, path) as Obj;
  const ensure = o.ensure === null ? null : str(o.ensure, `${path}.ensure`);
  if (ensure !== null && ensure !== 'running' && ensure !== 'observed')
    throw new InvalidCallError(`${path}.ensure: must be running, observed or null`);
  const op = o.op === undefined ? undefined : str(o.op, `${path}.op`);
  if (op !== undefined && !OPS.has(op))
    throw new InvalidCallError(`${path}.op: must be stop, delegate or undelegate`);
  return {
    hostId: str(o.hostId, `${path}.hostId`),
    watch: str(o.watch, `${path}.watch`),
    ensure,
    ...(op === undefined ? {} : { op: op as NonNullable<HoldChange['op']> }),
  };
}

/** The ProcessOverride of `watch` this API writes, if any; ConflictError when one is kept by hand. */
function ownedHold(head: Revision, watch: string): ProcessOverride | undefined {
  const docs = head.byKind.ProcessOverride.filter((d) => d.spec.watch === watch);
  const byHand = docs.find((d) => d.pos.file !== processFile(watch));
  if (byHand)
    throw new ConflictError(
      `ProcessWatch ${watch} is held by ProcessOverride "${byHand.metadata.name}" declared in ${byHand.pos.file} by hand; GSE calls change only ${processFile(watch)}, edit it in Git`,
    );
  return docs[0];
}

/** `body.changes` (HoldChange[]) applied over the head's ProcessOverride files. */
export function setProcessHolds(body: Obj, head: Revision, caller: string): WritePlan {
  const changes = list(body.changes, 'changes').map((c, i) => readChange(c, `changes[${i}]`));
  if (changes.length === 0) throw new InvalidCallError('changes: at least one');
  const byWatch = new Map<string, HoldChange[]>();
  for (const c of changes) byWatch.set(c.watch, [...(byWatch.get(c.watch) ?? []), c]);
  const files: Record<string, string | null> = {};
  const parts: string[] = [];
  for (const [watch, mine] of [...byWatch].sort(([a], [b]) => a.localeCompare(b))) {
    if (!head.byKind.ProcessWatch.some((w) => w.metadata.name === watch))
      throw new NotFoundError(`no ProcessWatch "${watch}" in Git; declare it first`);
    const hosts: Record<string, ProcessHold> = { ...(ownedHold(head, watch)?.spec.hosts ?? {}) };
    for (const c of mine) {
      if (c.ensure === null) delete hosts[c.hostId];
      else hosts[c.hostId] = { ensure: c.ensure, ...(c.op === undefined ? {} : { op: c.op }) };
      parts.push(`${c.op ?? (c.ensure === null ? 'release' : c.ensure)} ${watch} on ${c.hostId}`);
    }
    const sorted = Object.fromEntries(Object.entries(hosts).sort(([a], [b]) => a.localeCompare(b)));
    files[processFile(watch)] =
      Object.keys(sorted).length === 0
        ? null
        : yamlDoc(
            'ProcessOverride',
            { name: watch, annotations: { [WRITTEN_BY_ANNOTATION]: caller } },
            { watch, hosts: sorted },
          );
  }
  const summary =
    parts.length <= 3
      ? `operate_proc ${parts.join(', ')}`
      : `operate_proc ${parts.length} holds under ${WRITE_DIRS.process}`;
  return { files, data: {}, summary };
}
