/** Where a resource references secrets: every `*From` field (`passwordFrom`, ...) holding `{env}` or `{file}`. */
import type { PathSegment } from './field-path.js';
import type { SecretRef } from './types.js';

/** One secret reference and where it sits in its document. */
export interface SecretRefAt {
  path: PathSegment[];
  ref: SecretRef;
}

function isSecretRef(v: unknown): v is SecretRef {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  return typeof o.env === 'string' || typeof o.file === 'string';
}

/** Every `*From: {env|file}` under `node`, with its path (prefixed by `prefix`); aliases walked once. */
export function secretRefsIn(node: unknown, prefix: PathSegment[] = []): SecretRefAt[] {
  const out: SecretRefAt[] = [];
  const seen = new Set<object>();
  const visit = (n: unknown, path: PathSegment[]): void => {
    if (typeof n !== 'object' || n === null || seen.has(n)) return;
    seen.add(n);
    if (Array.isArray(n)) {
      n.forEach((v, i) => {
        visit(v, [...path, i]);
      });
      return;
    }
    for (const [key, value] of Object.entries(n)) {
      if (key.endsWith('From') && isSecretRef(value)) out.push({ path: [...path, key], ref: value });
      else visit(value, [...path, key]);
    }
  };
  visit(node, prefix);
  return out;
}
