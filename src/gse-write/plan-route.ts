/** Pure: GSE's add/update/delete_route (GSE.md §3.4-3.5) -> a Route file change and GSE's answer. */
import { channelIdsOf, GSE_ROUTE_NAMES_ANNOTATION, routeNames } from '../routing/gse-query.js';
import type { Revision } from '../spec/types.js';
import { int, labels, list, type Obj, obj, str } from './call-body.js';
import { ConflictError, InvalidCallError } from './errors.js';
import {
  findStreamTo,
  ownedRoute,
  routeFile,
  routesOfChannel,
  WRITTEN_BY_ANNOTATION,
  type WritePlan,
  yamlDoc,
} from './layout.js';

/** The first channel id allocated to an `add_route` without one: below the ids of named channels (1.8e9). */
export const FIRST_ALLOCATED_CHANNEL_ID = 1_700_000_000;

interface RouteEntry {
  name: string;
  target: Obj;
}

/** GSE `route[]` -> the Route's targets (by stream_to_id), with each entry's GSE name. */
function routeEntries(v: unknown, head: Revision, path: string): RouteEntry[] {
  return list(v, path).map((raw, i) => {
    const p = `${path}[${i}]`;
    const e = obj(raw, p) as Obj;
    const name = str(e.name, `${p}.name`);
    const st = obj(e.stream_to, `${p}.stream_to`) as Obj;
    const id = int(st.stream_to_id, `${p}.stream_to.stream_to_id`);
    const t = findStreamTo(head, id);
    if (!t)
      throw new InvalidCallError(`${p}.stream_to.stream_to_id: stream_to ${id} not found; add it first`);
    const target: Obj = { name: t.metadata.name };
    const kafka = obj(st.kafka, `${p}.stream_to.kafka`, false);
    const redis = obj(st.redis, `${p}.stream_to.redis`, false);
    if (obj(st.pulsar, `${p}.stream_to.pulsar`, false))
      throw new InvalidCallError(`${p}.stream_to.pulsar: pulsar is not supported here`);
    if (kafka) {
      if (!t.spec.kafka) throw new InvalidCallError(`${p}.stream_to.kafka: stream_to ${id} is not kafka`);
      const topic = str(kafka.topic_name, `${p}.stream_to.kafka.topic_name`);
      if (topic !== t.spec.kafka.topic) target.topic = topic;
    }
    if (redis) {
      if (!t.spec.redis) throw new InvalidCallError(`${p}.stream_to.redis: stream_to ${id} is not redis`);
      const key = str(redis.channel_name, `${p}.stream_to.redis.channel_name`);
      if (key !== t.spec.redis.key) target.key = key;
    }
    return { name, target };
  });
}

function routeDoc(
  channelId: number,
  entries: readonly RouteEntry[],
  labelsOf: Record<string, string> | undefined,
  caller: string,
): string {
  const metadata: Obj = {
    name: `gse-channel-${channelId}`,
    ...(labelsOf ? { labels: labelsOf } : {}),
    annotations: {
      [GSE_ROUTE_NAMES_ANNOTATION]: JSON.stringify(entries.map((e) => e.name)),
      [WRITTEN_BY_ANNOTATION]: caller,
    },
  };
  return yamlDoc('Route', metadata, { channel: channelId, targets: entries.map((e) => e.target) });
}

/** The next free channel id at or above FIRST_ALLOCATED_CHANNEL_ID (GSE allocates one when none is sent). */
function allocateChannelId(head: Revision): number {
  let next = FIRST_ALLOCATED_CHANNEL_ID;
  for (const r of head.byKind.Route)
    for (const id of channelIdsOf(r.spec.channel))
      if (id >= next && id < FIRST_ALLOCATED_CHANNEL_ID + 100_000_000) next = id + 1;
  return next;
}

export function addRoute(body: Obj, head: Revision, caller: string): WritePlan {
  const meta = obj(body.metadata, 'metadata') as Obj;
  const allocate = meta.channel_id === undefined || meta.channel_id === null;
  const channelId = allocate ? allocateChannelId(head) : int(meta.channel_id, 'metadata.channel_id');
  if (channelId <= 0) throw new InvalidCallError('metadata.channel_id: must be positive');
  const existing = routesOfChannel(head, channelId);
  if (existing.length > 0)
    throw new ConflictError(
      `metadata.channel_id: route ${channelId} exists already (Route "${existing[0]?.metadata.name}"); use update_route`,
    );
  const entries = routeEntries(body.route, head, 'route');
  const summary = `add_route channel ${channelId}`;
  return {
    files: {
      [routeFile(channelId)]: routeDoc(channelId, entries, labels(meta.label, 'metadata.label'), caller),
    },
    data: { channel_id: channelId, proofing_id: 0 },
    summary,
  };
}

export function updateRoute(body: Obj, head: Revision, caller: string): WritePlan {
  const cond = obj(body.condition, 'condition') as Obj;
  const channelId = int(cond.channel_id, 'condition.channel_id');
  const spec = obj(body.specification, 'specification') as Obj;
  const existing = ownedRoute(head, channelId);
  // GSE replaces the whole route list (GSE.md §3.5: bk-monitor sends the whole desired list).
  const entries = routeEntries(spec.route, head, 'specification.route');
  const summary = `update_route channel ${channelId}`;
  const labelsOf = labels(cond.label, 'condition.label') ?? existing.metadata.labels;
  return {
    files: { [routeFile(channelId)]: routeDoc(channelId, entries, labelsOf, caller) },
    data: { channel_id: channelId },
    summary,
  };
}

export function deleteRoute(body: Obj, head: Revision, caller: string): WritePlan {
  const cond = obj(body.condition, 'condition') as Obj;
  const channelId = int(cond.channel_id, 'condition.channel_id');
  const op = obj(body.operation, 'operation', false) ?? {};
  const method = op.method ?? 'all';
  if (method !== 'all' && method !== 'specification')
    throw new InvalidCallError(`operation.method: "${String(method)}" is not "all" or "specification"`);
  const existing = ownedRoute(head, channelId);
  const file = routeFile(channelId);
  if (method === 'all')
    return {
      files: { [file]: null },
      data: { channel_id: channelId },
      summary: `delete_route channel ${channelId}`,
    };
  const spec = obj(body.specification, 'specification') as Obj;
  const drop = new Set(
    list(spec.route, 'specification.route').map((n, i) => str(n, `specification.route[${i}]`)),
  );
  const names = routeNames(existing);
  const kept: RouteEntry[] = [];
  existing.spec.targets.forEach((t, i) => {
    const name = names[i] ?? `${existing.metadata.name}_${t.name}`;
    if (!drop.has(name)) kept.push({ name, target: { ...t } });
  });
  const summary = `delete_route channel ${channelId} (${[...drop].join(', ')})`;
  return {
    files: {
      [file]: kept.length === 0 ? null : routeDoc(channelId, kept, existing.metadata.labels, caller),
    },
    data: { channel_id: channelId },
    summary,
  };
}
