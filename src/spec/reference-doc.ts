/**
 * The spec language reference (docs/spec-reference.md), rendered from the JSON Schemas in `specs/` so the
 * two can never disagree: `npm run docs` writes it, and a test fails when it is stale.
 */
import { CUSTOM_EVENT_PREFIX } from './event-types.js';
import { EVENTS_SCHEMA_FILE, SCHEMA_FILES, type SchemaObject, schemaDocument } from './schemas.js';
import { KINDS } from './types.js';

type Node = Record<string, unknown>;

const COMMON_REF = /^(?:common\.schema\.json)?#\/\$defs\/(\w+)$/;

function refName(node: Node): string | undefined {
  return typeof node.$ref === 'string' ? COMMON_REF.exec(node.$ref)?.[1] : undefined;
}

function typeOf(node: Node): string {
  const ref = refName(node);
  if (ref) return `[${ref}](#${ref.toLowerCase()})`;
  if (Array.isArray(node.enum)) return node.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (node.const !== undefined) return `\`${String(node.const)}\``;
  if (node.type === 'array') {
    const items = (node.items ?? {}) as Node;
    return `list of ${typeOf(items)}`;
  }
  if (Array.isArray(node.oneOf) || Array.isArray(node.anyOf)) {
    const alts = ((node.oneOf ?? node.anyOf) as Node[]).filter(
      (a) => a.type !== undefined || a.$ref !== undefined,
    );
    if (alts.length > 0) return alts.map(typeOf).join(' or ');
  }
  if (Array.isArray(node.type)) return node.type.join(' or ');
  return typeof node.type === 'string' ? node.type : 'object';
}

function cell(text: unknown): string {
  return String(text ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ');
}

function example(node: Node): string {
  const ex = Array.isArray(node.examples) ? node.examples[0] : undefined;
  return ex === undefined ? '' : `\`${cell(JSON.stringify(ex))}\``;
}

/** Rows `field | type | default | description | example` for an object's properties, nested objects flattened. */
function rows(node: Node, prefix: string, required: string[], out: string[]): void {
  const props = (node.properties ?? {}) as Record<string, Node>;
  for (const [name, child] of Object.entries(props)) {
    const path = prefix ? `${prefix}.${name}` : name;
    const req = required.includes(name) ? ' (required)' : '';
    const def = child.default === undefined ? '' : `\`${cell(JSON.stringify(child.default))}\``;
    out.push(
      `| \`${path}\`${req} | ${typeOf(child)} | ${def} | ${cell(child.description)} | ${example(child)} |`,
    );
    if (child.properties && !refName(child))
      rows(child, path, (child.required as string[] | undefined) ?? [], out);
  }
}

function table(node: Node, prefix = ''): string {
  const out = ['| field | type | default | description | example |', '| --- | --- | --- | --- | --- |'];
  rows(node, prefix, (node.required as string[] | undefined) ?? [], out);
  return out.join('\n');
}

/** The event vocabulary: each type with the fields its events carry (what a Remediation's `match` names). */
function eventsSection(): string[] {
  const doc = schemaDocument('events') as SchemaObject & { $defs: Record<string, Node> };
  const parts = [
    '## Events',
    '',
    `${cell(doc.description)} Schema: \`specs/${EVENTS_SCHEMA_FILE}\`.`,
    '',
    `A Remediation's \`on.match\` may name the single-value fields (not lists) of its event type. Custom types are named \`${CUSTOM_EVENT_PREFIX}<name>\` and accept any match key.`,
    '',
  ];
  for (const [type, def] of Object.entries(doc.$defs)) {
    parts.push(`### ${type}`, '', cell(def.description), '', table(def), '');
  }
  return parts;
}

/** The whole reference as Markdown. */
export function renderSpecReference(): string {
  const parts: string[] = [
    '# Spec language reference',
    '',
    'Generated from `specs/*.schema.json` by `npm run docs`; do not edit by hand.',
    '',
    'Every document has `apiVersion: gse/v1`, a `kind`, `metadata` ([metadata](#metadata)) and a `spec`.',
    'Unknown fields are errors. Durations are strings such as `500ms`, `30s`, `5m`, `1h`; modes are quoted',
    'octal strings such as `"0644"`. Secrets never sit in Git: fields named `password`, `token`, `secret`',
    'are refused; use `passwordFrom: {env: NAME}` or `{file: PATH}`, resolved on the controller.',
    '',
  ];
  for (const kind of KINDS) {
    const doc = schemaDocument(kind) as Node;
    const spec = ((doc.properties as Record<string, Node>).spec ?? {}) as Node;
    parts.push(
      `## ${kind}`,
      '',
      `${cell(doc.description)} Schema: \`specs/${SCHEMA_FILES[kind]}\`.`,
      '',
      table(spec, 'spec'),
      '',
    );
  }
  parts.push(...eventsSection());
  const common = schemaDocument('common') as SchemaObject & { $defs: Record<string, Node> };
  parts.push('## Shared definitions', '');
  for (const [name, def] of Object.entries(common.$defs)) {
    parts.push(
      `### ${name}`,
      '',
      `${cell(def.description)}${def.properties ? '' : ` Type: ${typeOf(def)}.`} ${example(def)}`.trim(),
      '',
    );
    if (def.properties) parts.push(table(def), '');
  }
  return `${parts.join('\n').trimEnd()}\n`;
}
