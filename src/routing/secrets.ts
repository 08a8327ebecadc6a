/**
 * Resolves `SecretRef`s on the controller (`{env}` from an injected environment, `{file}` read from disk and
 * trimmed) and redacts secrets from anything printed. Errors name the reference, never the value.
 */
import { readFile } from 'node:fs/promises';
import type { SecretRef } from '../spec/types.js';
import { SecretError } from './errors.js';

/** What every redacted value is shown as. */
export const REDACTED = '******';

export type SecretResolver = (ref: SecretRef) => Promise<string>;

export interface SecretResolverOptions {
  /** The environment to read `{env}` refs from (the caller passes `process.env`; tests pass a map). */
  env: Readonly<Record<string, string | undefined>>;
  /** Reads a `{file}` ref; default `fs.readFile` as utf8. */
  readText?: (path: string) => Promise<string>;
}

/** A printable name for a reference: `env:NAME` or `file:/path`. */
export function describeSecretRef(ref: SecretRef): string {
  return 'env' in ref ? `env:${ref.env}` : `file:${ref.file}`;
}

/** Builds a resolver; each call resolves one ref or throws SecretError (missing, empty or unreadable). */
export function createSecretResolver(opts: SecretResolverOptions): SecretResolver {
  const readText = opts.readText ?? ((p: string) => readFile(p, 'utf8'));
  return async (ref) => {
    const name = describeSecretRef(ref);
    let raw: string | undefined;
    if ('env' in ref) {
      raw = opts.env[ref.env];
      if (raw === undefined) throw new SecretError(name, 'not set');
    } else {
      try {
        raw = await readText(ref.file);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'read failed';
        throw new SecretError(name, `cannot read (${code})`, { cause: err });
      }
    }
    const value = raw.trim();
    if (value === '') throw new SecretError(name, 'empty');
    return value;
  };
}

/** Replaces every occurrence of each secret in `text` with REDACTED (empty strings are ignored). */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join(REDACTED);
  return out;
}

/** A URL with its password replaced by REDACTED; text that is not a URL is returned as is. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = REDACTED;
    return u.toString();
  } catch {
    return url;
  }
}
