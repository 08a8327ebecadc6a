/** Literal secrets (`password: hunter2`) must never sit in Git: they are found anywhere in a document. */
import type { PathSegment } from './field-path.js';
import type { Issue } from './issue.js';

const SECRET_WORDS = ['password', 'passwd', 'secret', 'token'] as const;

/**
 * True when a key names a secret and holds a literal (not a mapping): `password`, `passwd`, `secret`,
 * `token`, or a name ending in one of them (`DB_PASSWORD`, `apiToken`).
 */
export function isLiteralSecretKey(key: string, value: unknown): boolean {
  if (typeof value === 'object' && value !== null) return false;
  const lower = key.toLowerCase();
  return SECRET_WORDS.some((w) => lower.endsWith(w));
}

/** Every literal secret in a document; shared nodes (YAML aliases) are walked once. */
export function literalSecretIssues(data: unknown): Issue[] {
  const issues: Issue[] = [];
  const seen = new Set<object>();
  const path: PathSegment[] = [];
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null || seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        path.push(i);
        visit(node[i]);
        path.pop();
      }
      return;
    }
    for (const key in node) {
      const value = (node as Record<string, unknown>)[key];
      if (isLiteralSecretKey(key, value)) {
        issues.push({
          path: [...path, key],
          anchor: 'key',
          message: `literal secret "${key}" is not allowed in Git; use passwordFrom: {env: NAME} or {file: PATH}`,
        });
      } else if (typeof value === 'object' && value !== null) {
        path.push(key);
        visit(value);
        path.pop();
      }
    }
  };
  visit(data);
  return issues;
}
