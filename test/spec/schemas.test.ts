import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/spec/defaults.js';
import { SCHEMA_FILES, type SchemaObject, schemaDocument, schemaFor } from '../../src/spec/schemas.js';
import { KINDS } from '../../src/spec/types.js';

const DOCS = ['common' as const, 'events' as const, ...KINDS].map((k) => [k, schemaDocument(k)] as const);

interface Visit {
  pointer: string;
  schema: SchemaObject;
}

function isObject(v: unknown): v is SchemaObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every subschema of a schema document, with its JSON pointer. */
function subschemas(root: SchemaObject): Visit[] {
  const out: Visit[] = [];
  const walk = (schema: SchemaObject, pointer: string): void => {
    out.push({ pointer, schema });
    for (const key of ['properties', '$defs']) {
      const map = schema[key];
      if (isObject(map))
        for (const [name, s] of Object.entries(map)) if (isObject(s)) walk(s, `${pointer}/${key}/${name}`);
    }
    for (const key of ['items', 'additionalProperties', 'propertyNames']) {
      const s = schema[key];
      if (isObject(s)) walk(s, `${pointer}/${key}`);
    }
  };
  walk(root, '');
  return out;
}

/** Every entry of a `properties` map. */
function properties(root: SchemaObject): Visit[] {
  return subschemas(root).filter((v) => /\/properties\/[^/]+$/.test(v.pointer));
}

function ajvWithAll(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true });
  ajv.addVocabulary(['errorMessage', 'patternErrorMessage']);
  for (const [, doc] of DOCS) ajv.addSchema(doc);
  return ajv;
}

describe('specs/*.schema.json', () => {
  it.each(DOCS)('pins the %s schema so that a change is deliberate', (_kind, doc) => {
    expect(doc).toMatchSnapshot();
  });

  it.each(DOCS)('gives the %s schema a $id under gse-gitops.dev and draft 2020-12', (kind, doc) => {
    const file =
      kind === 'common'
        ? 'common.schema.json'
        : kind === 'events'
          ? 'events.schema.json'
          : SCHEMA_FILES[kind];
    expect(doc.$id).toBe(`https://gse-gitops.dev/specs/${file}`);
    expect(doc.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
  });

  it.each(DOCS)('documents every property of the %s schema with a description and examples', (_kind, doc) => {
    const missing = properties(doc)
      // A removed field (`not: {}`) stays only to explain itself; it has no valid example.
      .filter(({ schema }) => schema.not === undefined)
      .filter(
        ({ schema }) =>
          typeof schema.description !== 'string' ||
          !Array.isArray(schema.examples) ||
          schema.examples.length === 0,
      )
      .map((v) => v.pointer);
    expect(missing).toEqual([]);
  });

  it.each(DOCS)('closes every object of the %s schema to unknown fields', (_kind, doc) => {
    const open = subschemas(doc)
      .filter(
        ({ schema }) =>
          // A `$ref` sibling inherits the referenced definition's closure.
          (schema.type === 'object' || isObject(schema.properties)) &&
          schema.$ref === undefined &&
          schema.additionalProperties === undefined,
      )
      .map((v) => v.pointer);
    const loose = subschemas(doc)
      .filter(({ schema }) => isObject(schema.properties) && schema.additionalProperties !== false)
      .map((v) => v.pointer);
    expect({ open, loose }).toEqual({ open: [], loose: [] });
  });

  it.each(DOCS)('accepts every example of the %s schema against its own property', (kind, doc) => {
    const ajv = ajvWithAll();
    const rejected: string[] = [];
    for (const { pointer, schema } of properties(doc)) {
      const validate = ajv.getSchema(`${String(doc.$id)}#${pointer}`);
      for (const example of (schema.examples as unknown[]) ?? []) {
        if (!validate?.(example)) rejected.push(`${kind}#${pointer}: ${JSON.stringify(example)}`);
      }
    }
    expect(rejected).toEqual([]);
  });

  it.each(KINDS)('accepts a %s document built from its spec example', (kind) => {
    const doc = schemaDocument(kind);
    const spec = (doc.properties as Record<string, SchemaObject>).spec;
    const example = ((spec?.examples ?? []) as unknown[])[0];
    const validate = schemaFor(kind);
    expect(
      validate({ apiVersion: 'gse/v1', kind, metadata: { name: 'example' }, spec: example }),
      JSON.stringify(validate.errors),
    ).toBe(true);
  });

  it('declares the defaults the loader fills in', () => {
    const at = (kind: (typeof KINDS)[number] | 'common', pointer: string): unknown => {
      const found = subschemas(schemaDocument(kind)).find((v) => v.pointer === pointer);
      return found?.schema.default;
    };
    const spec = '/properties/spec/properties';
    expect({
      execTimeout: at('common', '/$defs/runSpec/properties/timeout'),
      redisMode: at('StreamTarget', `${spec}/redis/properties/mode`),
      routeBatchMaxRecords: at('Route', `${spec}/batch/properties/maxRecords`),
      routeBatchMaxDelay: at('Route', `${spec}/batch/properties/maxDelay`),
      routeFormat: at('Route', `${spec}/format`),
      rolloutBatchSize: at('AgentVersion', `${spec}/rollout/properties/batchSize`),
      rolloutMaxUnavailable: at('AgentVersion', `${spec}/rollout/properties/maxUnavailable`),
      rolloutMaxFailures: at('AgentVersion', `${spec}/rollout/properties/maxFailures`),
      rolloutPauseBetween: at('AgentVersion', `${spec}/rollout/properties/pauseBetween`),
      rolloutHealthDeadline: at('AgentVersion', `${spec}/rollout/properties/healthDeadline`),
      rolloutMode: at('AgentVersion', `${spec}/rollout/properties/mode`),
      configTemplate: at('ConfigFile', `${spec}/template`),
      configMode: at('ConfigFile', `${spec}/mode`),
      syncSelfHeal: at('common', '/$defs/syncPolicy/properties/selfHeal'),
      syncPrune: at('common', '/$defs/syncPolicy/properties/prune'),
      remediationCooldown: at('Remediation', `${spec}/cooldown`),
      remediationMaxConcurrent: at('Remediation', `${spec}/maxConcurrent`),
      remediationMaxPerHour: at('Remediation', `${spec}/maxPerHour`),
      remediationDryRun: at('Remediation', `${spec}/dryRun`),
      processEnsure: at('ProcessWatch', `${spec}/ensure`),
      processProbeInterval: at('ProcessWatch', `${spec}/probeInterval`),
      checkInterval: at('HostCheck', `${spec}/interval`),
      checkCorePattern: at('HostCheck', `${spec}/corefiles/properties/pattern`),
      checkFailuresInARow: at('HostCheck', `${spec}/command/properties/failuresInARow`),
      checkCommandTimeout: at('HostCheck', `${spec}/command/properties/timeout`),
    }).toEqual(DEFAULTS);
  });
});
