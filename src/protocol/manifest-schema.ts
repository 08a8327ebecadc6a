/** JSON Schemas of `manifest.ts`: the host manifest and its items, as they travel in `manifest` frames. */
import type { SchemaObject } from 'ajv';
import {
  anyString,
  boolean,
  nonEmptyString,
  nonNegativeInt,
  objectSchema,
  positiveInt,
  scalarMap,
  stringMap,
} from './schema-parts.js';

/** Highest file mode (`0o7777`) a ConfigFile item may carry. */
const MAX_FILE_MODE = 0o7777;

const runSpecFields: Record<string, SchemaObject> = {
  run: anyString,
  timeoutMs: nonNegativeInt,
};
const runSpecOptional: Record<string, SchemaObject> = {
  interpreter: anyString,
  env: stringMap,
  cwd: anyString,
  runAs: anyString,
};

/** `RunSpec`: a command to run on a host. */
export const runSpecSchema: SchemaObject = objectSchema(runSpecFields, runSpecOptional);

const itemBase: Record<string, SchemaObject> = { name: nonEmptyString, hash: anyString };

const configFileSchema = objectSchema(
  {
    kind: { const: 'ConfigFile' },
    ...itemBase,
    path: nonEmptyString,
    content: anyString,
    encoding: { enum: ['utf8', 'base64'] },
    contentHash: anyString,
    mode: { type: 'integer', minimum: 0, maximum: MAX_FILE_MODE },
    selfHeal: boolean,
    prune: boolean,
  },
  { owner: anyString, onChange: runSpecSchema },
);

const processWatchSchema = objectSchema(
  {
    kind: { const: 'ProcessWatch' },
    ...itemBase,
    process: objectSchema({}, { name: anyString, cmdline: anyString, pidFile: anyString }),
    ensure: { enum: ['running', 'observed'] },
    probeIntervalMs: nonNegativeInt,
  },
  { start: anyString, stop: anyString, restart: anyString },
);

const remediationSchema = objectSchema({
  kind: { const: 'Remediation' },
  ...itemBase,
  on: objectSchema({ event: nonEmptyString }, { match: scalarMap }),
  run: objectSchema({ ...runSpecFields, script: anyString }, runSpecOptional),
  cooldownMs: nonNegativeInt,
  maxConcurrent: nonNegativeInt,
  maxPerHour: nonNegativeInt,
  dryRun: boolean,
});

const agentVersionSchema = objectSchema(
  {
    kind: { const: 'AgentVersion' },
    ...itemBase,
    version: nonEmptyString,
    healthDeadlineMs: nonNegativeInt,
    attempt: { type: 'integer', minimum: 1 },
  },
  { artifact: objectSchema({ sha256: anyString, url: nonEmptyString }) },
);

const absolutePath: SchemaObject = { type: 'string', pattern: '^/' };

const hostCheckSchema = objectSchema(
  {
    kind: { const: 'HostCheck' },
    ...itemBase,
    intervalMs: positiveInt,
  },
  {
    disk: objectSchema({
      mount: absolutePath,
      usedPercentOver: { type: 'number', minimum: 0, maximum: 100 },
    }),
    readonly: objectSchema({ mount: absolutePath }),
    corefiles: objectSchema({ dir: absolutePath, pattern: nonEmptyString }),
    command: objectSchema(
      {
        run: nonEmptyString,
        failuresInARow: positiveInt,
        timeoutMs: nonNegativeInt,
      },
      { interpreter: anyString, env: stringMap, runAs: anyString },
    ),
  },
);

/** The item kinds a manifest may carry, in the order of `ManifestItem`. */
export const MANIFEST_ITEM_KINDS = [
  'ConfigFile',
  'ProcessWatch',
  'Remediation',
  'AgentVersion',
  'HostCheck',
] as const;

/** `$id`s of the shared schemas, referenced with `$ref` so they are compiled once. */
export const MANIFEST_ITEM_ID = 'gse:protocol/manifest-item';
export const HOST_MANIFEST_ID = 'gse:protocol/host-manifest';

/** `ManifestItem`: one of the kinds, selected by `kind`. */
export const manifestItemSchema: SchemaObject = {
  $id: MANIFEST_ITEM_ID,
  type: 'object',
  discriminator: { propertyName: 'kind' },
  required: ['kind'],
  oneOf: [configFileSchema, processWatchSchema, remediationSchema, agentVersionSchema, hostCheckSchema],
};

/** `HostManifest`: everything one host must converge to. */
export const hostManifestSchema: SchemaObject = {
  $id: HOST_MANIFEST_ID,
  ...objectSchema({
    hostId: nonEmptyString,
    revision: anyString,
    labels: stringMap,
    items: { type: 'array', items: { $ref: MANIFEST_ITEM_ID } },
    hash: anyString,
  }),
};

/** Schemas that message schemas reference by `$id`. */
export const SHARED_SCHEMAS: readonly SchemaObject[] = [manifestItemSchema, hostManifestSchema];
