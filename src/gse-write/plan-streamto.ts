/** Pure: GSE's add/update/delete_streamto (GSE.md §3.2) -> a StreamTarget file change and GSE's answer. */
import { GSE_NAME_ANNOTATION, gseNameOf, streamToId } from '../routing/gse-query.js';
import type { Revision } from '../spec/types.js';
import { int, labels, list, type Obj, obj, str } from './call-body.js';
import { ConflictError, InvalidCallError } from './errors.js';
import {
  ownedStreamTo,
  specNameOf,
  streamToFile,
  WRITTEN_BY_ANNOTATION,
  type WritePlan,
  yamlDoc,
} from './layout.js';

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

export function addStreamTo(body: Obj, head: Revision, caller: string): WritePlan {
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

export function updateStreamTo(body: Obj, head: Revision, caller: string): WritePlan {
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

export function deleteStreamTo(body: Obj, head: Revision): WritePlan {
  const cond = obj(body.condition, 'condition') as Obj;
  const id = int(cond.stream_to_id, 'condition.stream_to_id');
  const existing = ownedStreamTo(head, id);
  return {
    files: { [streamToFile(existing.metadata.name)]: null },
    data: { stream_to_id: id },
    summary: `delete_streamto ${id} (${gseNameOf(existing)})`,
  };
}
