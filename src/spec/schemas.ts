/**
 * The JSON Schemas of the spec language (`specs/*.schema.json`, the truth for validation and editors),
 * read from disk and compiled with ajv once per process.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { SchemaLoadError } from './errors.js';
import { KINDS, type Kind } from './types.js';

/** The schema file of each kind, in `specs/`. */
export const SCHEMA_FILES: { readonly [K in Kind]: string } = {
  StreamTarget: 'stream-target.schema.json',
  Route: 'route.schema.json',
  AgentVersion: 'agent-version.schema.json',
  ConfigFile: 'config-file.schema.json',
  Remediation: 'remediation.schema.json',
  ProcessWatch: 'process-watch.schema.json',
  HostGroup: 'host-group.schema.json',
};

/** Definitions shared by every kind, referenced with `$ref: common.schema.json#/$defs/...`. */
export const COMMON_SCHEMA_FILE = 'common.schema.json';

/**
 * Keywords the schemas carry for editors (vscode-json-languageservice / yaml-language-server) and for our
 * error messages; ajv must know them in strict mode.
 */
const MESSAGE_KEYWORDS = ['errorMessage', 'patternErrorMessage'];

/** A JSON Schema object as read from disk. */
export type SchemaObject = Record<string, unknown>;

interface CompiledSchemas {
  dir: string;
  validators: Map<Kind, ValidateFunction>;
}

let compiled: CompiledSchemas | undefined;

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

function compileAll(): CompiledSchemas {
  const dir = specsDir();
  const ajv = new Ajv2020({
    allErrors: true,
    verbose: true,
    strict: true,
    // `oneOf: [{required: [a]}, {required: [b]}]` names properties declared beside it, not in the branch.
    strictRequired: false,
    allowUnionTypes: true,
  });
  ajv.addVocabulary(MESSAGE_KEYWORDS);
  try {
    ajv.addSchema(readSchema(dir, COMMON_SCHEMA_FILE));
    const validators = new Map<Kind, ValidateFunction>();
    for (const kind of KINDS) validators.set(kind, ajv.compile(readSchema(dir, SCHEMA_FILES[kind])));
    return { dir, validators };
  } catch (err) {
    if (err instanceof SchemaLoadError) throw err;
    throw new SchemaLoadError(`compiling the schemas in ${dir}: ${(err as Error).message}`, { cause: err });
  }
}

/** The compiled validator of a kind; the schemas are compiled on first use, once per process. */
export function schemaFor(kind: Kind): ValidateFunction {
  compiled ??= compileAll();
  const validate = compiled.validators.get(kind);
  if (!validate) throw new SchemaLoadError(`no schema for kind ${kind}`);
  return validate;
}

/** Runs a kind's schema on a document; returns its errors (empty when valid). */
export function validateAgainstSchema(kind: Kind, data: unknown): ErrorObject[] {
  const validate = schemaFor(kind);
  return validate(data) ? [] : [...(validate.errors ?? [])];
}

/** The JSON Schema document of a kind (or of the shared definitions), as published in `specs/`. */
export function schemaDocument(kind: Kind | 'common'): SchemaObject {
  return readSchema(specsDir(), kind === 'common' ? COMMON_SCHEMA_FILE : SCHEMA_FILES[kind]);
}
