/**
 * Literal secrets must never sit in Git: values under secret-looking keys (`password: hunter2`) and URLs
 * carrying a password (`redis://:pw@host`) are found anywhere in a document.
 *
 * The key rule (precise, so that `key` as a Redis stream key, `keyField`, `maxKeys`, `keepalive` or
 * `author` stay usable): the key is split into lower-case words at camelCase humps, `_`, `-` and `.`; it
 * names a secret when
 *   - its first word is `private` (`privateKey`, `private_key_pem`), or
 *   - its last word is `pass`, `pwd`, `auth`, `authorization`, `apikey`, or ends with `secret(s)`,
 *     `password`, `passwd`, `passphrase`, `token`, `credential(s)` (`DB_PASSWORD`, `apiToken`,
 *     `mysecret`, `basicAuth`), or
 *   - its last word is `key` after `api`, `access`, `secret`, `private`, `signing`, `encryption`, `auth`,
 *     `master`, `client` or `shared` (`apiKey`, `SECRET_KEY`, `access-key`).
 * Only literals count (a non-empty string or a number): a mapping is a reference (`passwordFrom: {env}`)
 * or structure, and a boolean (`auth: true`) is a switch, not a secret.
 */
import type { PathSegment } from './field-path.js';
import type { Issue } from './issue.js';

const LAST_WORD_EXACT = new Set(['pass', 'pwd', 'auth', 'authorization', 'apikey']);
const LAST_WORD_SUFFIXES = [
  'secret',
  'secrets',
  'password',
  'passwd',
  'passphrase',
  'token',
  'credential',
  'credentials',
];
const KEY_QUALIFIERS = new Set([
  'api',
  'access',
  'secret',
  'private',
  'signing',
  'encryption',
  'auth',
  'master',
  'client',
  'shared',
]);

/** The lower-case words of a key: `dbPassword` -> [db, password], `SECRET_KEY` -> [secret, key]. */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[\s_.-]+/)
    .filter((w) => w !== '')
    .map((w) => w.toLowerCase());
}

/** Verdicts by key: a fleet repeats a few hundred field names across thousands of documents. */
const verdicts = new Map<string, boolean>();
/** Keys remembered at most (keys come from the repo; a hostile one cannot grow this without bound). */
const MAX_VERDICTS = 10_000;

/** True when a key names a secret by the rule above (whatever its value). */
export function isSecretKeyName(key: string): boolean {
  let verdict = verdicts.get(key);
  if (verdict === undefined) {
    verdict = secretKeyName(key);
    if (verdicts.size < MAX_VERDICTS) verdicts.set(key, verdict);
  }
  return verdict;
}

function secretKeyName(key: string): boolean {
  const words = keyWords(key);
  const first = words[0];
  const last = words.at(-1);
  if (first === undefined || last === undefined) return false;
  if (first === 'private') return true;
  if (LAST_WORD_EXACT.has(last) || LAST_WORD_SUFFIXES.some((s) => last.endsWith(s))) return true;
  const before = words.at(-2);
  return last === 'key' && before !== undefined && KEY_QUALIFIERS.has(before);
}

/** True when a key names a secret and holds a literal (a non-empty string or a number). */
export function isLiteralSecretKey(key: string, value: unknown): boolean {
  const literal = (typeof value === 'string' && value !== '') || typeof value === 'number';
  return literal && isSecretKeyName(key);
}

/** A whole value that is a URL (`scheme://...`, no spaces): checked for credentials. */
const URL_WITH_USERINFO = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#\s@]*)@[^\s]*$/;

/** True when a string is a URL whose userinfo carries a password (`redis://:pw@h`, `http://u:pw@h`). */
export function urlHasPassword(value: string): boolean {
  const m = URL_WITH_USERINFO.exec(value.trim());
  return m !== null && (m[1] ?? '').includes(':');
}

/** Every literal secret in a document; shared nodes (YAML aliases) are walked once. */
export function literalSecretIssues(data: unknown): Issue[] {
  const issues: Issue[] = [];
  const seen = new Set<object>();
  const path: PathSegment[] = [];
  const checkUrl = (value: unknown): void => {
    if (typeof value === 'string' && urlHasPassword(value)) {
      issues.push({
        path: [...path],
        message:
          'URL carries a password; remove it from the URL and reference the secret instead, e.g. passwordFrom: {env: REDIS_PASSWORD} (allowed on the controller with --secret-env)',
      });
    }
  };
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null || seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        path.push(i);
        checkUrl(node[i]);
        visit(node[i]);
        path.pop();
      }
      return;
    }
    for (const key of Object.keys(node)) {
      const value = (node as Record<string, unknown>)[key];
      if (isLiteralSecretKey(key, value)) {
        issues.push({
          path: [...path, key],
          anchor: 'key',
          message: `literal secret "${key}" is not allowed in Git; use passwordFrom: {env: NAME} or {file: NAME} (names the controller allows with --secret-env / --secret-dir)`,
        });
        continue;
      }
      path.push(key);
      checkUrl(value);
      if (typeof value === 'object' && value !== null) visit(value);
      path.pop();
    }
  };
  visit(data);
  return issues;
}
