/**
 * The event vocabulary (`specs/events.schema.json`: one definition per event type) and the check of a
 * Remediation's trigger against it: `on.event` must be a declared type or a custom one (`custom.<name>`),
 * and every `on.match` key a single-value field of that type, with a value of the field's type.
 */
import { didYouMean } from './did-you-mean.js';
import type { Issue } from './issue.js';
import { schemaDocument } from './schemas.js';
import type { RemediationSpec } from './types.js';

/** Custom event types, pushed by local programs, start with this and carry any fields. */
export const CUSTOM_EVENT_PREFIX = 'custom.';

/** One field an event type carries. */
export interface EventField {
  /** JSON Schema type(s): `string`, `integer`, `number`, `boolean`, `array`. */
  types: string[];
  description: string;
}

/** One declared event type. */
export interface EventType {
  type: string;
  description: string;
  fields: Readonly<Record<string, EventField>>;
}

const SCALAR_TYPES = new Set(['string', 'integer', 'number', 'boolean']);

let vocabulary: ReadonlyMap<string, EventType> | undefined;

/** The declared event types, read once from `specs/events.schema.json`. */
export function eventVocabulary(): ReadonlyMap<string, EventType> {
  vocabulary ??= parseVocabulary(schemaDocument('events'));
  return vocabulary;
}

/** The event types of an events schema document (its `$defs`). */
export function parseVocabulary(doc: Record<string, unknown>): ReadonlyMap<string, EventType> {
  const out = new Map<string, EventType>();
  const defs = (doc.$defs ?? {}) as Record<string, Record<string, unknown>>;
  for (const [type, def] of Object.entries(defs)) {
    const props = (def.properties ?? {}) as Record<string, Record<string, unknown>>;
    const fields: Record<string, EventField> = {};
    for (const [name, p] of Object.entries(props)) {
      const t = p.type;
      fields[name] = {
        types: Array.isArray(t) ? t.map(String) : [String(t)],
        description: String(p.description ?? ''),
      };
    }
    out.set(type, { type, description: String(def.description ?? ''), fields });
  }
  return out;
}

/** True for a custom event type (`custom.<name>`). */
export function isCustomEventType(type: string): boolean {
  return type.startsWith(CUSTOM_EVENT_PREFIX) && type.length > CUSTOM_EVENT_PREFIX.length;
}

/** The fields of a type that `match` may name: those holding one value (lists are never equal to one). */
export function matchableFields(t: EventType): string[] {
  return Object.entries(t.fields)
    .filter(([, f]) => f.types.some((x) => SCALAR_TYPES.has(x)))
    .map(([name]) => name);
}

/** "a string", "an integer", "a string or number". */
function aType(types: string[]): string {
  const text = types.join(' or ');
  return /^[aeiou]/.test(text) ? `an ${text}` : `a ${text}`;
}

function valueFits(value: unknown, types: string[]): boolean {
  return types.some((t) =>
    t === 'integer'
      ? Number.isInteger(value)
      : t === 'number'
        ? typeof value === 'number'
        : typeof value === t,
  );
}

/** Problems of a Remediation's `on` against the vocabulary (paths are the YAML document's). */
export function triggerIssues(
  on: RemediationSpec['on'],
  vocab: ReadonlyMap<string, EventType> = eventVocabulary(),
): Issue[] {
  if (isCustomEventType(on.event)) return [];
  const type = vocab.get(on.event);
  if (!type) {
    const known = [...vocab.keys()];
    return [
      {
        path: ['spec', 'on', 'event'],
        message: `unknown event type "${on.event}"${didYouMean(on.event, known) || '.'} Event types: ${known.join(', ')}; a custom event is named ${CUSTOM_EVENT_PREFIX}<name>`,
      },
    ];
  }
  const allowed = matchableFields(type);
  const allowedText = allowed.length ? allowed.join(', ') : 'none';
  const issues: Issue[] = [];
  for (const [key, value] of Object.entries(on.match ?? {})) {
    const path = ['spec', 'on', 'match', key];
    const field = type.fields[key];
    if (!field) {
      issues.push({
        path,
        anchor: 'key',
        message: `${on.event} events have no field "${key}"${didYouMean(key, allowed) || '.'} Match keys allowed: ${allowedText}`,
      });
    } else if (!allowed.includes(key)) {
      issues.push({
        path,
        anchor: 'key',
        message: `"${key}" of ${on.event} is ${aType(field.types)}, which match cannot compare. Match keys allowed: ${allowedText}`,
      });
    } else if (!valueFits(value, field.types)) {
      issues.push({
        path,
        message: `"${key}" of ${on.event} is ${aType(field.types)}, not ${JSON.stringify(value)}; give ${aType(field.types)} value (numbers and booleans unquoted, strings quoted when they look like either)`,
      });
    }
  }
  return issues;
}
