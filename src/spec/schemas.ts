/**
 * The JSON Schemas of the spec language (`specs/*.schema.json`, the truth for validation and editors) and
 * their validators. The validators are compiled ahead of time (scripts/gen-spec-validators.mjs, run by
 * `npm run build`, output in ./generated/): compiling them at start-up cost every process and every parse
 * worker 100-200 ms and loaded all of ajv, which no longer loads to validate.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { SchemaLoadError } from './errors.js';
import { SPEC_VALIDATORS } from './generated/spec-validators.js';
import type { Kind } from './types.js';

/** The schema file of each kind, in `specs/`. */
export const SCHEMA_FILES: { readonly [K in Kind]: string } = {
  StreamTarget: 'stream-target.schema.json',
  Route: 'route.schema.json',
  AgentVersion: 'agent-version.schema.json',
  ConfigFile: 'config-file.schema.json',
  Remediation: 'remediation.schema.json',
  ProcessWatch: 'process-watch.schema.json',
  HostGroup: 'host-group.schema.json',
  Notification: 'notification.schema.json',
  HostCheck: 'host-check.schema.json',
  ProcessOverride: 'process-override.schema.json',
};

/** Definitions shared by every kind, referenced with `$ref: common.schema.json#/$defs/...`. */
export const COMMON_SCHEMA_FILE = 'common.schema.json';

/** The event vocabulary: one definition per event type (not a kind; no validator is generated for it). */
export const EVENTS_SCHEMA_FILE = 'events.schema.json';

/** A JSON Schema object as read from disk. */
export type SchemaObject = Record<string, unknown>;

/** The `specs/` directory: the nearest ancestor of this module that holds `specs/common.schema.json`. */
export function specsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'specs', COMMON_SCHEMA_FILE))) return join(dir, 'specs');
    const parent = dirname(dir);
    if (parent === dir) throw new SchemaLoadError(`no specs/${COMMON_SCHEMA_FILE} above ${import.meta.url}`);
    dir = parent;
  }
}

function readSchema(dir: string, file: string): SchemaObject {
  const path = join(dir, file);
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new SchemaLoadError(`${path}: not a JSON object`);
    }
    return parsed as SchemaObject;
  } catch (err) {
    if (err instanceof SchemaLoadError) throw err;
    throw new SchemaLoadError(`${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The compiled validator of a kind (generated ahead of time from its schema). */
export function schemaFor(kind: Kind): ValidateFunction {
  const validate = SPEC_VALIDATORS[kind];
  if (!validate) throw new SchemaLoadError(`no schema for kind ${kind}`);
  return validate;
}

/** Runs a kind's schema on a document; returns its errors (empty when valid). */
export function validateAgainstSchema(kind: Kind, data: unknown): ErrorObject[] {
  const validate = schemaFor(kind);
  return validate(data) ? [] : [...(validate.errors ?? [])];
}

/** The JSON Schema document of a kind (or of the shared definitions, or of the events), as published in `specs/`. */
export function schemaDocument(kind: Kind | 'common' | 'events'): SchemaObject {
  const file =
    kind === 'common' ? COMMON_SCHEMA_FILE : kind === 'events' ? EVENTS_SCHEMA_FILE : SCHEMA_FILES[kind];
  return readSchema(specsDir(), file);
}
