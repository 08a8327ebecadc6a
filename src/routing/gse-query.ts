/**
 * Pure builders of the `data` of GSE's `query_streamto` and `query_route` answers (GSE.md §3.3, §3.6) from
 * the applied revision's StreamTarget and Route specs. Secrets are never read: a password that a spec
 * references (or a URL carries) shows as REDACTED.
 *
 * `stream_to_id`: GSE allocates it; here it is derived from the target's name so it is stable across
 * restarts, revisions and controller replicas: `1000 + (FNV-1a-32(utf8(name)) mod 2,000,000,000)`. The range
 * avoids `-1` (bk-monitor's "not registered") and `500` (its default cluster). Two names that collide are
 * refused by `streamToIds` with a TargetConfigError naming both (rename one).
 */
import type { Route, StreamTarget } from '../spec/types.js';
import { TargetConfigError } from './errors.js';
import { GSE_EVENT_DATAIDS, GSE_EVENTS_CHANNEL } from './gse-format.js';
import { REDACTED } from './secrets.js';

export const DEFAULT_PLAT_NAME = 'bkmonitor';
/** Annotation holding the GSE name of a StreamTarget whose spec name had to differ (GSE write-back). */
export const GSE_NAME_ANNOTATION = 'gse-gitops/gse-name';
/** Annotation holding a Route's GSE `route[].name`s, a JSON list in the order of `spec.targets`. */
export const GSE_ROUTE_NAMES_ANNOTATION = 'gse-gitops/route-names';
export const GSE_OPERATOR_NAME = 'gse-gitops';
const STREAM_TO_ID_BASE = 1000;
const STREAM_TO_ID_SPAN = 2_000_000_000;
/** Ids of named channels: above bk-monitor's data ids (which start at 1,500,000 and grow slowly), below 2^31. */
const CHANNEL_ID_BASE = 1_800_000_000;
const CHANNEL_ID_SPAN = 300_000_000;
const DEFAULT_REDIS_PORT = 6379;
const DEFAULT_SENTINEL_PORT = 26379;
const DEFAULT_KAFKA_PORT = 9092;

export interface StorageAddress {
  ip: string;
  port: number;
}

export interface GseKafkaStreamTo {
  storage_address: StorageAddress[];
  sasl_username?: string;
  sasl_passwd?: string;
  sasl_mechanisms?: string;
  security_protocol?: string;
}

export interface GseRedisStreamTo {
  storage_address: StorageAddress[];
  passwd?: string;
  master_name?: string;
}

export interface GseStreamTo {
  name: string;
  report_mode: 'kafka' | 'redis' | 'file';
  data_log_path?: string;
  kafka?: GseKafkaStreamTo;
  redis?: GseRedisStreamTo;
}

/** One `query_streamto` element: the add-request shape, plus top-level copies some consumers read. */
export interface GseStreamToEntry {
  metadata: { plat_name: string; label: Record<string, string>; stream_to_id: number };
  operation: { operator_name: string };
  stream_to: GseStreamTo;
  kafka?: GseKafkaStreamTo;
  redis?: GseRedisStreamTo;
  sasl_username?: string;
  sasl_passwd?: string;
  sasl_mechanisms?: string;
  security_protocol?: string;
}

export interface GseRouteEntry {
  name: string;
  stream_to: { stream_to_id: number; kafka?: { topic_name: string }; redis?: { channel_name: string } };
  filter_name_and: string[];
  filter_name_or: string[];
}

export interface GseChannel {
  metadata: { plat_name: string; channel_id: number; label: Record<string, string | number> };
  route: GseRouteEntry[];
  stream_filters: never[];
}

/** The stable id of a target name (see the file comment). */
export function streamToId(name: string): number {
  return STREAM_TO_ID_BASE + (fnv1a32(name) % STREAM_TO_ID_SPAN);
}

function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** name -> stream_to_id for every target; throws TargetConfigError when two names collide. */
export function streamToIds(targets: readonly StreamTarget[]): Map<string, number> {
  const ids = new Map<string, number>();
  const owner = new Map<number, string>();
  for (const t of targets) {
    const name = t.metadata.name;
    const id = streamToId(name);
    const other = owner.get(id);
    if (other !== undefined && other !== name) {
      throw new TargetConfigError(name, `stream_to_id ${id} collides with target "${other}"; rename one`);
    }
    owner.set(id, name);
    ids.set(name, id);
  }
  return ids;
}

/** The `data` of `query_streamto`: every target, or the one with `stream_to_id`, whose labels include `label`. */
export function buildQueryStreamTo(
  targets: readonly StreamTarget[],
  condition: { plat_name?: string; stream_to_id?: number; label?: Record<string, unknown> },
): GseStreamToEntry[] {
  const ids = streamToIds(targets);
  const plat = condition.plat_name ?? DEFAULT_PLAT_NAME;
  const out: GseStreamToEntry[] = [];
  for (const t of targets) {
    const id = ids.get(t.metadata.name) as number;
    if (condition.stream_to_id !== undefined && condition.stream_to_id !== id) continue;
    if (!labelsMatch(t.metadata.labels, condition.label)) continue;
    const streamTo = gseStreamTo(t);
    const entry: GseStreamToEntry = {
      metadata: { plat_name: plat, label: { ...(t.metadata.labels ?? {}) }, stream_to_id: id },
      operation: { operator_name: GSE_OPERATOR_NAME },
      stream_to: streamTo,
    };
    if (streamTo.kafka) {
      entry.kafka = streamTo.kafka;
      const { sasl_username, sasl_passwd, sasl_mechanisms, security_protocol } = streamTo.kafka;
      Object.assign(entry, dropUndefined({ sasl_username, sasl_passwd, sasl_mechanisms, security_protocol }));
    }
    if (streamTo.redis) entry.redis = streamTo.redis;
    out.push(entry);
  }
  return out;
}

/** The `data` of `query_route`: the channel with `channel_id` (every Route's channels when absent). */
export function buildQueryRoute(
  routes: readonly Route[],
  targets: readonly StreamTarget[],
  condition: { channel_id?: number; plat_name?: string },
): GseChannel[] {
  const ids = streamToIds(targets);
  const byName = new Map(targets.map((t) => [t.metadata.name, t]));
  const channels = new Map<number, GseChannel>();
  for (const r of routes)
    for (const channelId of channelIdsOf(r.spec.channel)) {
      if (condition.channel_id !== undefined && condition.channel_id !== channelId) continue;
      addRoute(channelId, r);
    }
  return [...channels.values()];

  function addRoute(channelId: number, r: Route): void {
    let ch = channels.get(channelId);
    if (!ch) {
      ch = {
        metadata: {
          plat_name: condition.plat_name ?? DEFAULT_PLAT_NAME,
          channel_id: channelId,
          label: routeLabel(r),
        },
        route: [],
        stream_filters: [],
      };
      channels.set(channelId, ch);
    }
    const names = routeNames(r);
    for (const [i, ref] of r.spec.targets.entries()) {
      const target = byName.get(ref.name);
      const id = ids.get(ref.name);
      if (!target || id === undefined) continue;
      const streamTo: GseRouteEntry['stream_to'] = { stream_to_id: id };
      if (target.spec.kafka) streamTo.kafka = { topic_name: ref.topic ?? target.spec.kafka.topic };
      if (target.spec.redis) streamTo.redis = { channel_name: ref.key ?? target.spec.redis.key };
      ch.route.push({
        name: names[i] ?? `${r.metadata.name}_${ref.name}`,
        stream_to: streamTo,
        filter_name_and: [],
        filter_name_or: [],
      });
    }
  }
}

/** The GSE route names a Route carries (GSE_ROUTE_NAMES_ANNOTATION), `[]` when none or unreadable. */
export function routeNames(r: Route): string[] {
  const text = r.metadata.annotations?.[GSE_ROUTE_NAMES_ANNOTATION];
  if (text === undefined) return [];
  try {
    const list: unknown = JSON.parse(text);
    return Array.isArray(list) ? list.map((n) => String(n)) : [];
  } catch {
    return [];
  }
}

/** The name GSE knows a StreamTarget by: GSE_NAME_ANNOTATION, else its spec name. */
export function gseNameOf(t: StreamTarget): string {
  return t.metadata.annotations?.[GSE_NAME_ANNOTATION] ?? t.metadata.name;
}

/**
 * The GSE channel ids of a Route's channel: a numeric channel is its own id; `events` is the three data ids
 * its events carry (GSE_EVENT_DATAIDS); another name gets a stable id derived from it (channelIdOfName).
 */
export function channelIdsOf(channel: string | number): readonly number[] {
  const n = numericChannel(channel);
  if (n !== undefined) return [n];
  if (channel === GSE_EVENTS_CHANNEL) return GSE_EVENT_DATAIDS;
  return [channelIdOfName(String(channel))];
}

/** A named channel's GSE channel id: `CHANNEL_ID_BASE + FNV-1a-32(name) mod CHANNEL_ID_SPAN`, stable everywhere. */
export function channelIdOfName(name: string): number {
  return CHANNEL_ID_BASE + (fnv1a32(name) % CHANNEL_ID_SPAN);
}

function gseStreamTo(t: StreamTarget): GseStreamTo {
  const { kafka, redis, file } = t.spec;
  const name = gseNameOf(t);
  if (kafka) {
    const k: GseKafkaStreamTo = {
      storage_address: kafka.brokers.map((b) => hostPort(b, DEFAULT_KAFKA_PORT)),
    };
    if (kafka.sasl) {
      k.sasl_username = kafka.sasl.username;
      k.sasl_passwd = REDACTED;
      k.sasl_mechanisms = kafka.sasl.mechanism.toUpperCase();
      k.security_protocol = kafka.ssl ? 'SASL_SSL' : 'SASL_PLAINTEXT';
    } else if (kafka.ssl) {
      k.security_protocol = 'SSL';
    }
    return { name, report_mode: 'kafka', kafka: k };
  }
  if (redis) {
    const r: GseRedisStreamTo = redis.sentinel
      ? {
          storage_address: redis.sentinel.nodes.map((n) => hostPort(n, DEFAULT_SENTINEL_PORT)),
          master_name: redis.sentinel.name,
        }
      : { storage_address: [redisAddress(redis.url)] };
    if (redis.passwordFrom || urlHasPassword(redis.url)) r.passwd = REDACTED;
    return { name, report_mode: 'redis', redis: r };
  }
  return { name, report_mode: 'file', data_log_path: file?.path ?? '' };
}

function hostPort(addr: string, defaultPort: number): StorageAddress {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(addr.trim());
  return { ip: m?.[1] ?? addr, port: m?.[2] ? Number(m[2]) : defaultPort };
}

function redisAddress(url: string): StorageAddress {
  try {
    const u = new URL(url);
    return { ip: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : DEFAULT_REDIS_PORT };
  } catch {
    return hostPort(url, DEFAULT_REDIS_PORT);
  }
}

function urlHasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return false;
  }
}

function numericChannel(channel: string | number): number | undefined {
  const n = typeof channel === 'number' ? channel : /^\d+$/.test(channel) ? Number(channel) : Number.NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** GSE's route label keys, taken from the Route's metadata.labels when present. */
function routeLabel(r: Route): Record<string, string | number> {
  const labels = r.metadata.labels ?? {};
  const out: Record<string, string | number> = {};
  if (labels.odm !== undefined) out.odm = labels.odm;
  if (labels.bk_biz_id !== undefined)
    out.bk_biz_id = /^\d+$/.test(labels.bk_biz_id) ? Number(labels.bk_biz_id) : labels.bk_biz_id;
  if (labels.bk_biz_name !== undefined) out.bk_biz_name = labels.bk_biz_name;
  return out;
}

function labelsMatch(
  have: Record<string, string> | undefined,
  want: Record<string, unknown> | undefined,
): boolean {
  if (!want) return true;
  return Object.entries(want).every(([k, v]) => have?.[k] === String(v));
}

function dropUndefined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
