/**
 * JSON Schemas of every message in `messages.ts`, keyed by `type`, and which direction may send which type.
 * Compiled ahead of time into generated/message-validators.ts (scripts/gen-protocol-validators.mjs);
 * `test/protocol` pins them with a snapshot so a change is always deliberate.
 */
import type { SchemaObject } from 'ajv';
import { HOST_MANIFEST_ID, MANIFEST_ITEM_ID, MANIFEST_ITEM_KINDS } from './manifest-schema.js';
import {
  type AgentToController,
  type ControllerToAgent,
  PROC_OPS,
  REMEDIATION_DECISIONS,
} from './messages.js';
import {
  agentIdString,
  anyString,
  boolean,
  envelope,
  idString,
  nonEmptyString,
  nonNegativeInt,
  objectSchema,
  openObject,
  positiveInt,
  scalarMap,
  stringList,
  stringMap,
} from './schema-parts.js';

/** Message types an agent may send. */
export const AGENT_MESSAGE_TYPES = [
  'hello',
  'report',
  'execResult',
  'event',
  'data',
  'heartbeat',
  'error',
] as const satisfies readonly AgentToController['type'][];

/** Message types the controller may send. */
export const CONTROLLER_MESSAGE_TYPES = [
  'welcome',
  'manifest',
  'dryRun',
  'exec',
  'cancel',
  'putFile',
  'procOp',
  'ack',
  'heartbeat',
  'error',
] as const satisfies readonly ControllerToAgent['type'][];

export type MessageType = (typeof AGENT_MESSAGE_TYPES)[number] | (typeof CONTROLLER_MESSAGE_TYPES)[number];

const agentFacts = objectSchema(
  {
    name: nonEmptyString,
    ips: stringList,
    cloudId: nonNegativeInt,
    os: anyString,
    agentVersion: anyString,
    labels: stringMap,
  },
  { facts: scalarMap },
);

const hello = objectSchema(
  {
    ...envelope('hello'),
    agentId: agentIdString,
    facts: agentFacts,
    manifestHash: anyString,
    spoolHighWater: nonNegativeInt,
  },
  { bootstrapToken: nonEmptyString, credential: nonEmptyString },
);

const welcome = objectSchema(
  { ...envelope('welcome'), agentId: agentIdString, heartbeatMs: positiveInt, window: positiveInt },
  { credential: nonEmptyString, dataWindow: positiveInt, stampsHost: { const: true } },
);

const manifestFull = objectSchema({
  ...envelope('manifest'),
  id: idString,
  mode: { const: 'full' },
  manifest: { $ref: HOST_MANIFEST_ID },
});

const manifestDelta = objectSchema({
  ...envelope('manifest'),
  id: idString,
  mode: { const: 'delta' },
  baseHash: anyString,
  hash: anyString,
  revision: anyString,
  labels: stringMap,
  upsert: { type: 'array', items: { $ref: MANIFEST_ITEM_ID } },
  remove: stringList,
});

const manifest: SchemaObject = {
  type: 'object',
  discriminator: { propertyName: 'mode' },
  required: ['mode'],
  oneOf: [manifestFull, manifestDelta],
};

const itemReport = objectSchema(
  {
    kind: { enum: [...MANIFEST_ITEM_KINDS] },
    name: nonEmptyString,
    hash: anyString,
    state: { enum: ['ok', 'changed', 'failed', 'drifted', 'pending'] },
  },
  {
    observedHash: anyString,
    observedOwner: anyString,
    message: anyString,
    drift: objectSchema({ detectedAt: anyString, healed: boolean, detail: anyString }),
    process: objectSchema({ running: boolean, pids: { type: 'array', items: nonNegativeInt } }),
    observed: objectSchema(
      { exists: boolean },
      {
        size: nonNegativeInt,
        mode: nonNegativeInt,
        content: anyString,
        contentOmitted: { enum: ['binary', 'private', 'too large', 'unreadable'] },
      },
    ),
  },
);

const report = objectSchema(
  {
    ...envelope('report'),
    id: idString,
    manifestHash: anyString,
    revision: anyString,
    items: { type: 'array', items: itemReport },
  },
  { needFull: boolean, pruned: stringList, dryRunOf: idString },
);

const dryRun = objectSchema({ ...envelope('dryRun'), id: idString, manifest: { $ref: HOST_MANIFEST_ID } });

const exec = objectSchema(
  {
    ...envelope('exec'),
    id: idString,
    taskId: idString,
    script: anyString,
    timeoutMs: nonNegativeInt,
    reason: anyString,
  },
  { interpreter: anyString, env: stringMap, cwd: anyString, runAs: nonEmptyString },
);

const cancel = objectSchema({ ...envelope('cancel'), id: idString, taskId: idString });

const putFile = objectSchema(
  {
    ...envelope('putFile'),
    id: idString,
    taskId: idString,
    reason: anyString,
    path: nonEmptyString,
    content: anyString,
    mkdir: boolean,
  },
  { mode: { type: 'integer', minimum: 0, maximum: 0o7777 }, owner: nonEmptyString },
);

const procOp = objectSchema(
  {
    ...envelope('procOp'),
    id: idString,
    taskId: idString,
    reason: anyString,
    watch: nonEmptyString,
    op: { enum: [...PROC_OPS] },
    timeoutMs: nonNegativeInt,
  },
  { command: anyString },
);

const hostEvent = objectSchema(
  { type: nonEmptyString, time: anyString, fields: openObject },
  { resource: anyString },
);

const remediationDecision = objectSchema(
  {
    name: nonEmptyString,
    itemHash: anyString,
    revision: anyString,
    decision: { type: 'string', enum: [...REMEDIATION_DECISIONS] },
    event: hostEvent,
  },
  { detail: anyString },
);

const execResult = objectSchema(
  {
    ...envelope('execResult'),
    id: idString,
    taskId: idString,
    reason: anyString,
    exitCode: { type: ['integer', 'null'] },
    signal: { type: ['string', 'null'] },
    stdoutTail: anyString,
    stderrTail: anyString,
    startedAt: anyString,
    durationMs: nonNegativeInt,
    timedOut: boolean,
    killed: boolean,
  },
  { remediation: remediationDecision },
);

const event = objectSchema({ ...envelope('event'), id: idString, event: hostEvent });

const dataRecord = objectSchema(
  { rid: idString, channel: nonEmptyString, time: anyString, fields: openObject },
  // Ignored by the controller, which stamps the session's host: sent only to older controllers.
  { host: objectSchema({ id: anyString, name: anyString, ip: anyString, cloudId: nonNegativeInt }) },
);

const data = objectSchema({
  ...envelope('data'),
  id: idString,
  records: { type: 'array', items: dataRecord },
});

const ack = objectSchema({ ...envelope('ack'), ids: { type: 'array', items: idString } });

const heartbeat = objectSchema({ ...envelope('heartbeat'), time: anyString });

const error = objectSchema(
  { ...envelope('error'), code: nonEmptyString, message: anyString },
  { ref: anyString },
);

/** One JSON Schema per message type (manifest items are `$ref`s to SHARED_SCHEMAS). */
export const MESSAGE_SCHEMAS: Readonly<Record<MessageType, SchemaObject>> = {
  hello,
  welcome,
  manifest,
  dryRun,
  report,
  exec,
  cancel,
  putFile,
  procOp,
  execResult,
  event,
  data,
  ack,
  heartbeat,
  error,
};
