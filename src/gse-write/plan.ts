/**
 * Pure: one GSE data-route write (GSE.md §3.2-3.5) -> the file changes that make it in the spec tree, and
 * the `data` GSE answers with. Decided against the revision at the branch head, so a retry after another
 * writer moved the branch decides again (a channel id allocated twice, a target deleted meanwhile).
 *
 * Written resources live one per file under `gse/routes/channel-<id>.yaml` and `gse/streamto/<name>.yaml`
 * (WRITE_DIRS); this API updates and deletes only those. A Route or StreamTarget a person wrote elsewhere is
 * answered by the queries but refused here (ConflictError), so a GSE call never rewrites a hand-kept file.
 */
import { stringify } from 'yaml';
import {
  channelIdsOf,
  GSE_NAME_ANNOTATION,
  GSE_ROUTE_NAMES_ANNOTATION,
  gseNameOf,
  routeNames,
  streamToId,
} from '../routing/gse-query.js';
import type { Revision, Route, StreamTarget } from '../spec/types.js';
import { ConflictError, InvalidCallError, NotFoundError } from './errors.js';

/** The GSE calls that change data routes. */
export const WRITE_ACTIONS = [
  'add_route',
  'update_route',
  'delete_route',
  'add_streamto',
  'update_streamto',
  'delete_streamto',
] as const;
export type WriteAction = (typeof WRITE_ACTIONS)[number];

/** Where written resources live, relative to the spec root. */
export const WRITE_DIRS = { route: 'gse/routes', streamTo: 'gse/streamto' } as const;
/** Annotation naming who made the last GSE call that wrote the resource. */
export const WRITTEN_BY_ANNOTATION = 'gse-gitops/written-by';
/** The first channel id allocated to an `add_route` without one: below the ids of named channels (1.8e9). */
export const FIRST_ALLOCATED_CHANNEL_ID = 1_700_000_000;
const MAX_NAME_LENGTH = 253;

/** What a write changes: spec-root-relative path -> new content, or null to delete. */
export interface WritePlan {
  files: Record<string, string | null>;
  /** The `data` of GSE's answer once applied. */
  data: Record<string, unknown>;
  /** One line for the commit subject, e.g. `add_route channel 1001`. */
  summary: string;
}

type Obj = Record<string, unknown>;

/** Decides the change of `action` with `body` over `head`; throws a GseWriteError for a call GSE refuses. */
export function planWrite(action: WriteAction, body: Obj, head: Revision, caller: string): WritePlan {
  switch (action) {
    case 'add_streamto':
      return addStreamTo(body, head, caller);
    case 'update_streamto':
      return updateStreamTo(body, head, caller);
    case 'delete_streamto':
      return deleteStreamTo(body, head);
    case 'add_route':
      return addRoute(body, head, caller);
    case 'update_route':
      return updateRoute(body, head, caller);
    case 'delete_route':
      return deleteRoute(body, head, caller);
  }
}

// --- reading the body -------------------------------------------------------------------------------

function obj(v: unknown, path: string, required = true): Obj | undefined {
  if (v === undefined || v === null) {
    if (required) throw new InvalidCallError(`${path}: required`);
    return undefined;
  }
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidCallError(`${path}: must be an object`);
  return v as Obj;
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.trim() === '')
    throw new InvalidCallError(`${path}: must be a non-empty string`);
  return v.trim();
}

function int(v: unknown, path: string): number {
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n))
    throw new InvalidCallError(`${path}: must be an integer`);
  return n;
}

function list(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new InvalidCallError(`${path}: must be a list`);
  return v;
}

/** GSE `label` -> resource labels (string values; unknown types refused). */
function labels(v: unknown, path: string): Record<string, string> | undefined {
  const o = obj(v, path, false);
  if (!o) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) {
    if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean')
      throw new InvalidCallError(`${path}.${k}: must be a string or a number`);
    out[k] = String(val);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

// --- names and files --------------------------------------------------------------------------------

/** A GSE name (`mq_stream_to_1`) as a spec name (`mq-stream-to-1`): lower case, `[a-z0-9.-]`. */
export function specNameOf(gseName: string, path: string): string {
  const name = gseName
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')
    .slice(0, MAX_NAME_LENGTH)
    .replace(/[^a-z0-9]+$/, '');
  if (name === '')
    throw new InvalidCallError(`${path}: "${gseName}" has no letter or digit to name a resource by`);
  return name;
}

const streamToFile = (name: string): string => `${WRITE_DIRS.streamTo}/${name}.yaml`;
const routeFile = (channelId: number): string => `${WRITE_DIRS.route}/channel-${channelId}.yaml`;

/** Depends on the resource only, so a call that changes nothing writes the same bytes (and commits nothing). */
const FILE_HEADER =
  '# Written by gse-gitops for GSE data-route calls (docs/GSE-MAPPING.md); they may change it again.\n';

function yamlDoc(kind: string, metadata: Obj, spec: Obj): string {
  return FILE_HEADER + stringify({ apiVersion: 'gse/v1', kind, metadata, spec }, { lineWidth: 0 });
}

function findStreamTo(head: Revision, id: number): StreamTarget | undefined {
  return head.byKind.StreamTarget.find((t) => streamToId(t.metadata.name) === id);
}

/** The target written by this API with `stream_to_id`; NotFound or Conflict (hand-written) otherwise. */
function ownedStreamTo(head: Revision, id: number): StreamTarget {
  const t = findStreamTo(head, id);
  if (!t) throw new NotFoundError(`stream_to ${id} not found`);
  if (t.pos.file !== streamToFile(t.metadata.name))
    throw new ConflictError(
      `stream_to ${id} is StreamTarget "${t.metadata.name}" declared in ${t.pos.file} by hand; GSE calls change only ${WRITE_DIRS.streamTo}/<name>.yaml, edit it in Git`,
    );
  return t;
}

function routesOfChannel(head: Revision, channelId: number): Route[] {
  return head.byKind.Route.filter((r) => channelIdsOf(r.spec.channel).includes(channelId));
}

function ownedRoute(head: Revision, channelId: number): Route {
  const routes = routesOfChannel(head, channelId);
  const owned = routes.find((r) => r.pos.file === routeFile(channelId));
  if (owned) return owned;
  if (routes.length === 0) throw new NotFoundError(`route ${channelId} not found`);
  throw new ConflictError(
    `route ${channelId} is Route "${routes[0]?.metadata.name}" declared in ${routes[0]?.pos.file} by hand; GSE calls change only ${routeFile(channelId)}, edit it in Git`,
  );
}

// --- stream_to (GSE.md §3.2) ------------------------------------------------------------------------

function address(v: unknown, path: string): string {
  const a = obj(v, path) as Obj;
  const port = int(a.port, `${path}.port`);
  if (port < 1 || port > 65535) throw new InvalidCallError(`${path}.port: must be 1-65535`);
  return `${str(a.ip, `${path}.ip`)}:${port}`;
}

function noSecret(o: Obj, key: string, path: string): void {
  if (o[key] !== undefined && o[key] !== null && o[key] !== '')
    throw new InvalidCallError(
      `${path}.${key}: secrets are never committed to Git; send the stream_to without it and give the StreamTarget a passwordFrom (an env variable or file the controller allows) in Git`,
    );
}

/** The `spec` of a StreamTarget from GSE's `stream_to` object. */
function streamToSpec(st: Obj, name: string, path: string): Obj {
  const mode = str(st.report_mode, `${path}.report_mode`);
  if (mode === 'kafka') {
    const k = obj(st.kafka, `${path}.kafka`) as Obj;
    noSecret(k, 'sasl_passwd', `${path}.kafka`);
    if (k.sasl_username)
      throw new InvalidCallError(
        `${path}.kafka.sasl_username: SASL needs a password, which is never committed to Git; declare this StreamTarget in Git with spec.kafka.sasl`,
      );
    const brokers = list(k.storage_address, `${path}.kafka.storage_address`).map((a, i) =>
      address(a, `${path}.kafka.storage_address[${i}]`),
    );
    if (brokers.length === 0) throw new InvalidCallError(`${path}.kafka.storage_address: required`);
    const ssl = typeof k.security_protocol === 'string' && /SSL/i.test(k.security_protocol);
    // GSE's stream_to has no topic (each route names one); the spec needs a default: the target's name.
    return { kafka: { brokers, topic: name, ...(ssl ? { ssl: true } : {}) } };
  }
  if (mode === 'redis') {
    const r = obj(st.redis, `${path}.redis`) as Obj;
    noSecret(r, 'passwd', `${path}.redis`);
    noSecret(r, 'sentinel_passwd', `${path}.redis`);
    const nodes = list(r.storage_address, `${path}.redis.storage_address`).map((a, i) =>
      address(a, `${path}.redis.storage_address[${i}]`),
    );
    if (nodes.length === 0) throw new InvalidCallError(`${path}.redis.storage_address: required`);
    const master = typeof r.master_name === 'string' && r.master_name !== '' ? r.master_name : undefined;
    // GSE publishes to each route's channel_name (pub/sub); the target's own key is the default.
    return {
      redis: {
        url: `redis://${nodes[0]}/0`,
        mode: 'pubsub',
        key: name,
        ...(master ? { sentinel: { name: master, nodes } } : {}),
      },
    };
  }
  if (mode === 'file') return { file: { path: str(st.data_log_path, `${path}.data_log_path`) } };
  throw new InvalidCallError(`${path}.report_mode: "${mode}" is not supported here (kafka, redis or file)`);
}

function streamToDoc(st: Obj, labelsOf: Record<string, string> | undefined, caller: string, path: string) {
  const gseName = str(st.name, `${path}.name`);
  const name = specNameOf(gseName, `${path}.name`);
  const metadata: Obj = {
    name,
    ...(labelsOf ? { labels: labelsOf } : {}),
    annotations: {
      ...(gseName === name ? {} : { [GSE_NAME_ANNOTATION]: gseName }),
      [WRITTEN_BY_ANNOTATION]: caller,
    },
  };
  return { gseName, name, metadata, spec: streamToSpec(st, name, path) };
}

function addStreamTo(body: Obj, head: Revision, caller: string): WritePlan {
  const meta = obj(body.metadata, 'metadata', false) ?? {};
  const st = obj(body.stream_to, 'stream_to') as Obj;
  const doc = streamToDoc(st, labels(meta.label, 'metadata.label'), caller, 'stream_to');
  const id = streamToId(doc.name);
  const clash = head.byKind.StreamTarget.find(
    (t) => t.metadata.name === doc.name || streamToId(t.metadata.name) === id,
  );
  if (clash)
    throw new ConflictError(
      `stream_to.name: "${doc.gseName}" exists already (stream_to_id ${streamToId(clash.metadata.name)}, StreamTarget "${clash.metadata.name}"); use update_streamto`,
    );
  const summary = `add_streamto ${doc.gseName}`;
  return {
    files: { [streamToFile(doc.name)]: yamlDoc('StreamTarget', doc.metadata, doc.spec) },
    data: { stream_to_id: id, name: doc.gseName },
    summary,
  };
}

function updateStreamTo(body: Obj, head: Revision, caller: string): WritePlan {
  const cond = obj(body.condition, 'condition') as Obj;
  const id = int(cond.stream_to_id, 'condition.stream_to_id');
  const spec = obj(body.specification, 'specification') as Obj;
  const st = obj(spec.stream_to, 'specification.stream_to') as Obj;
  const existing = ownedStreamTo(head, id);
  const doc = streamToDoc(
    st,
    labels(cond.label, 'condition.label') ?? existing.metadata.labels,
    caller,
    'specification.stream_to',
  );
  if (doc.name !== existing.metadata.name)
    throw new InvalidCallError(
      `specification.stream_to.name: "${doc.gseName}" renames stream_to ${id} ("${gseNameOf(existing)}"); its id derives from its name, so add a new stream_to instead`,
    );
  const summary = `update_streamto ${id} (${doc.gseName})`;
  return {
    files: { [streamToFile(doc.name)]: yamlDoc('StreamTarget', doc.metadata, doc.spec) },
    data: { stream_to_id: id, name: doc.gseName },
    summary,
  };
}

function deleteStreamTo(body: Obj, head: Revision): WritePlan {
  const cond = obj(body.condition, 'condition') as Obj;
  const id = int(cond.stream_to_id, 'condition.stream_to_id');
  const existing = ownedStreamTo(head, id);
  return {
    files: { [streamToFile(existing.metadata.name)]: null },
    data: { stream_to_id: id },
    summary: `delete_streamto ${id} (${gseNameOf(existing)})`,
  };
}

// --- routes (GSE.md §3.4-3.5) -----------------------------------------------------------------------

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

function addRoute(body: Obj, head: Revision, caller: string): WritePlan {
  const meta = obj(body.metadata, 'metadata') as Obj;
  const given = meta.channel_id === undefined || meta.channel_id === null;
  const channelId = given ? allocateChannelId(head) : int(meta.channel_id, 'metadata.channel_id');
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

function updateRoute(body: Obj, head: Revision, caller: string): WritePlan {
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

function deleteRoute(body: Obj, head: Revision, caller: string): WritePlan {
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
