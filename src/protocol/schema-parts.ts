/**
 * Building blocks for the wire-protocol JSON Schemas: small typed helpers so every object schema is closed
 * (`additionalProperties: false`, which the codec turns into "drop unknown fields") and lists its required
 * properties once.
 */
import type { SchemaObject } from 'ajv';

/** A closed object schema: `required` properties must be present, `optional` ones may be. */
export function objectSchema(
  required: Record<string, SchemaObject>,
  optional: Record<string, SchemaObject> = {},
): SchemaObject {
  return {
    type: 'object',
    properties: { ...required, ...optional },
    required: Object.keys(required),
    additionalProperties: false,
  };
}

/** The envelope every frame carries: `{v: 1, type}`. */
export function envelope(type: string): Record<string, SchemaObject> {
  return { v: { const: 1 }, type: { const: type } };
}

/** Longest id (message, task, record) accepted on the wire. */
export const MAX_ID_LENGTH = 256;
/** Agent ids: host-name-like, so they are safe in logs, CLI hints and file names. */
export const AGENT_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';

export const anyString: SchemaObject = { type: 'string' };
export const nonEmptyString: SchemaObject = { type: 'string', minLength: 1 };
export const idString: SchemaObject = { type: 'string', minLength: 1, maxLength: MAX_ID_LENGTH };
export const agentIdString: SchemaObject = { type: 'string', pattern: AGENT_ID_PATTERN };
export const boolean: SchemaObject = { type: 'boolean' };
export const nonNegativeInt: SchemaObject = { type: 'integer', minimum: 0 };
export const positiveInt: SchemaObject = { type: 'integer', minimum: 1 };
export const stringList: SchemaObject = { type: 'array', items: anyString };
export const stringMap: SchemaObject = { type: 'object', additionalProperties: anyString };
/** `Record<string, string | number | boolean>`: facts and event match clauses. */
export const scalarMap: SchemaObject = {
  type: 'object',
  additionalProperties: { type: ['string', 'number', 'boolean'] },
};
/** `Record<string, unknown>`: free-form fields (records, events), any JSON object. */
export const openObject: SchemaObject = { type: 'object' };
