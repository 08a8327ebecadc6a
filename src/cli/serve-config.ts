/**
 * `gsectl serve --config FILE`: the controller's flags as a YAML file, checked with the same errors as
 * specs (`file:line:col: field: message`, did-you-mean). Keys are the long flag names; a flag on the
 * command line wins over the file. Secrets stay out of it: they come from the environment.
 */
import { readFile } from 'node:fs/promises';
import type { ErrorObject } from 'ajv';
import { type Issue, issueToSpecError, sortSpecErrors } from '../spec/issue.js';
import { parseYamlFile } from '../spec/parse-yaml.js';
import { schemaIssues } from '../spec/schema-errors.js';
import { urlHasPassword } from '../spec/secrets.js';
import type { SpecError } from '../spec/types.js';

/** A flag as `gsectl`'s command table declares it. */
export interface FlagShape {
  type: 'string' | 'boolean';
}

/** Flags whose values are secrets, and the environment variable that carries each instead. */
export const SECRET_FLAGS: Readonly<Record<string, string>> = {
  'bootstrap-token': 'GSE_BOOTSTRAP_TOKEN',
  'admin-token': 'GSE_ADMIN_TOKEN',
  'webhook-secret': 'GSE_WEBHOOK_SECRET',
  'metrics-token': 'GSE_METRICS_TOKEN',
};

/** Flags that take a comma-separated list on the command line and a list (or that string) in the file. */
const LIST_FLAGS = new Set(['secret-env']);

/** Flags that make no sense in the file. */
const NOT_IN_FILE = new Set(['config', 'help']);

export type ConfigValues = Record<string, string | boolean>;

export class ServeConfigError extends Error {
  readonly code = 'invalid_config';
  constructor(readonly errors: SpecError[]) {
    super(
      errors
        .map((e) => `${e.file}:${e.line}:${e.col}: ${e.path ? `${e.path}: ` : ''}${e.message}`)
        .join('\n'),
    );
    this.name = 'ServeConfigError';
  }
}

/** The JSON Schema of the file, made from the command's flags (pure). */
export function serveConfigSchema(flags: Readonly<Record<string, FlagShape>>): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(flags)) {
    if (NOT_IN_FILE.has(name) || name in SECRET_FLAGS) continue;
    properties[name] =
      f.type === 'boolean'
        ? { type: 'boolean' }
        : LIST_FLAGS.has(name)
          ? { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string', minLength: 1 } }] }
          : { type: ['string', 'number'] };
  }
  return { type: 'object', additionalProperties: false, properties };
}

/** What is wrong beyond the schema: secrets written into the file (pure). */
function secretIssues(data: Record<string, unknown>): Issue[] {
  const issues: Issue[] = [];
  for (const [name, env] of Object.entries(SECRET_FLAGS)) {
    if (!(name in data)) continue;
    issues.push({
      path: [name],
      anchor: 'key',
      message: `secrets do not go in the config file; remove it and set ${env} in the controller's environment (systemd: EnvironmentFile= with mode 0600)`,
    });
  }
  const redis = data.redis;
  if (typeof redis === 'string' && urlHasPassword(redis))
    issues.push({
      path: ['redis'],
      message:
        'the URL holds a password; remove it from the file and set GSE_REDIS_URL in the controller environment',
    });
  return issues;
}

/** Flag values from the file's text, or every error in it (pure apart from compiling the schema). */
export async function parseServeConfig(
  file: string,
  text: string,
  flags: Readonly<Record<string, FlagShape>>,
): Promise<ConfigValues> {
  const parsed = parseYamlFile(file, text);
  if (parsed.errors.length > 0) throw new ServeConfigError(parsed.errors);
  const [doc, extra] = parsed.docs;
  if (doc === undefined) return {};
  const errors: SpecError[] = [];
  if (extra !== undefined)
    errors.push({
      ...extra.pos,
      path: '',
      message: 'the config file holds one YAML document; remove the `---`',
    });
  const data = doc.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new ServeConfigError([
      {
        ...doc.pos,
        path: '',
        message: 'expected a mapping of flag names to values, e.g. `listen: 0.0.0.0:7070`',
      },
    ]);
  const { Ajv } = await import('ajv');
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: false });
  const validate = ajv.compile(serveConfigSchema(flags));
  const issues: Issue[] = secretIssues(data as Record<string, unknown>);
  if (!validate(data)) issues.push(...schemaIssues(validate.errors as ErrorObject[], data, doc.sourceText));
  errors.push(...issues.map((i) => issueToSpecError(doc, i)));
  if (errors.length > 0) throw new ServeConfigError(sortSpecErrors(errors));
  const values: ConfigValues = {};
  for (const [name, v] of Object.entries(data as Record<string, unknown>)) {
    if (typeof v === 'boolean') values[name] = v;
    else if (Array.isArray(v)) values[name] = v.join(',');
    else values[name] = String(v);
  }
  return values;
}

/** Reads and checks the file; a missing or unreadable file says which and why. */
export async function loadServeConfig(
  file: string,
  flags: Readonly<Record<string, FlagShape>>,
): Promise<ConfigValues> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ServeConfigError([
      { file, line: 1, col: 1, path: '', message: `cannot read the config file (${code}); check --config` },
    ]);
  }
  return parseServeConfig(file, text, flags);
}

/** The command line over the file: a flag given on the command line wins. */
export function mergeConfig(
  fromFile: ConfigValues,
  fromFlags: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...fromFile };
  for (const [k, v] of Object.entries(fromFlags)) if (v !== undefined) merged[k] = v;
  return merged;
}
