/**
 * Compiles a revision's Routes into what the router evaluates per record: channel, host predicate, filter
 * predicate, format, and per-target out-record building (Redis key / Kafka topic override, Kafka key).
 */
import type { DataRecord } from '../protocol/messages.js';
import type { Route, RouteTargetRef, StreamTarget } from '../spec/types.js';
import { TargetUnknownError } from './errors.js';
import { compileFilters, type RecordPredicate } from './filters.js';
import { formatGse, type GseFormatOptions } from './gse-format.js';
import { kafkaKeyOf } from './kafka-message.js';
import type { OutRecord } from './types.js';

/** Builds the host predicate of a route from its `spec.hosts` selector (the planner's selector matching). */
export type HostMatcherFactory = (route: Route) => RecordPredicate;

export interface CompiledTargetRef {
  name: string;
  /** Redis key or Kafka topic override, by the target's kind. */
  dest?: string;
  /** Kafka `keyField` of the target, when it has one. */
  keyField?: string;
}

export interface CompiledRoute {
  name: string;
  channel: string;
  hostMatches: RecordPredicate;
  filter: RecordPredicate;
  format: 'json' | 'gse';
  batch: { maxRecords: number; maxDelayMs: number };
  targets: CompiledTargetRef[];
}

/** Compiles every route; throws FilterError or TargetUnknownError before anything is applied. */
export function compileRoutes(
  routes: readonly Route[],
  targets: ReadonlyMap<string, StreamTarget>,
  hostMatcher: HostMatcherFactory,
): CompiledRoute[] {
  return routes.map((route, i) => ({
    name: route.metadata.name,
    channel: String(route.spec.channel),
    hostMatches: route.spec.hosts ? hostMatcher(route) : () => true,
    filter: compileFilters(route.spec.filters, `routes[${i}].spec.filters`),
    format: route.spec.format,
    batch: {
      maxRecords: Math.max(1, route.spec.batch.maxRecords),
      maxDelayMs: Math.max(0, route.spec.batch.maxDelayMs),
    },
    targets: route.spec.targets.map((ref) => compileRef(ref, targets)),
  }));
}

function compileRef(ref: RouteTargetRef, targets: ReadonlyMap<string, StreamTarget>): CompiledTargetRef {
  const target = targets.get(ref.name);
  if (!target) throw new TargetUnknownError(ref.name);
  const out: CompiledTargetRef = { name: ref.name };
  if (target.spec.redis && ref.key) out.dest = ref.key;
  if (target.spec.kafka) {
    if (ref.topic) out.dest = ref.topic;
    if (target.spec.kafka.keyField) out.keyField = target.spec.kafka.keyField;
  }
  return out;
}

/** The payload a route sends for a record: the record as JSON, or its GSE shape for `format: gse` events. */
export function serializeRecord(
  rec: DataRecord,
  format: 'json' | 'gse',
  gse: () => GseFormatOptions,
): string {
  if (format === 'gse') {
    const shaped = formatGse(rec, gse());
    if (shaped) return JSON.stringify(shaped);
  }
  return recordJson(rec);
}

/** The JSON of each host object seen; the records of one agent message share one host object. */
const hostJson = new WeakMap<DataRecord['host'], string>();

/**
 * `JSON.stringify(rec)` with the keys in the order an agent stamps them, its host serialised once per host
 * object instead of once per record. The record holds exactly these keys (the protocol validators drop others).
 */
export function recordJson(rec: DataRecord): string {
  let host = hostJson.get(rec.host);
  if (host === undefined) {
    host = JSON.stringify(rec.host);
    hostJson.set(rec.host, host);
  }
  const { rid, channel, time, fields } = rec;
  return `{"rid":${JSON.stringify(rid)},"channel":${JSON.stringify(channel)},"time":${JSON.stringify(time)},"host":${host},"fields":${JSON.stringify(fields)}}`;
}

/** The out-record of `rec` for one target of a route. */
export function outRecordFor(rec: DataRecord, data: string, ref: CompiledTargetRef): OutRecord {
  const out: OutRecord = { rid: rec.rid, data };
  if (ref.dest !== undefined) out.dest = ref.dest;
  if (ref.keyField !== undefined) {
    const key = kafkaKeyOf(rec, ref.keyField);
    if (key !== undefined) out.key = key;
  }
  return out;
}
