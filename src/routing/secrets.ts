/**
 * Resolves `SecretRef`s on the controller (`{env}` from an injected environment, `{file}` read from disk and
 * trimmed) and redacts secrets from anything printed. Errors name the reference, never the value.
 *
 * Only what the operator allowed resolves (`--secret-env`, `--secret-dir`): the loader already refuses
 * other references at validation; this enforces the same policy again where the secret is read, and opens
 * files with O_NOFOLLOW so a symlink in the secret dir cannot point elsewhere.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecretPolicy } from '../spec/limits.js';
import { secretFileProblem, secretRefProblem } from '../spec/policy-checks.js';
import type { SecretRef } from '../spec/types.js';
import { SecretError } from './errors.js';

/** Largest secret file read: a secret is a password or a key, not a data file. */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

/** What every redacted value is shown as. */
export const REDACTED = '******';

export type SecretResolver = (ref: SecretRef) => Promise<string>;

export interface SecretResolverOptions {
  /** The environment to read `{env}` refs from (the caller passes `process.env`; tests pass a map). */
  env: Readonly<Record<string, string | undefined>>;
  /**
   * What may be resolved: env names and the secret dir. Default: with an injected map (tests, benches),
   * the names in it; with `process.env` itself, nothing; never files. The controller always passes one.
   */
  policy?: SecretPolicy;
  /** Reads a `{file}` ref (an absolute path inside the secret dir); default: a regular file, never a symlink. */
  readText?: (path: string) => Promise<string>;
}

/** Reads a regular file, refusing a symlink (ELOOP) or anything that is not a file, up to MAX_SECRET_FILE_BYTES. */
export async function readSecretFile(path: string): Promise<string> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
    if (st.size > MAX_SECRET_FILE_BYTES) throw Object.assign(new Error('too large'), { code: 'EFBIG' });
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** The absolute path a `{file}` ref names in the secret dir (a bare name or `DIR/name`). */
export function secretFilePath(file: string, dir: string): string {
  return file.startsWith('/') ? file : join(dir, file);
}

/** A printable name for a reference: `env:NAME` or `file:/path`. */
export function describeSecretRef(ref: SecretRef): string {
  return 'env' in ref ? `env:${ref.env}` : `file:${ref.file}`;
}

/** Builds a resolver; each call resolves one ref or throws SecretError (missing, empty or unreadable). */
export function createSecretResolver(opts: SecretResolverOptions): SecretResolver {
  const readText = opts.readText ?? readSecretFile;
  const policy: SecretPolicy = opts.policy ?? {
    env: opts.env === process.env ? [] : Object.keys(opts.env),
  };
  return async (ref) => {
    const name = describeSecretRef(ref);
    const refused = secretRefProblem(ref, policy);
    if (refused) throw new SecretError(name, refused);
    let raw: string | undefined;
    if ('env' in ref) {
      raw = opts.env[ref.env];
      if (raw === undefined) throw new SecretError(name, 'not set');
    } else {
      const dir = policy.dir as string; // secretRefProblem refused a file ref without a dir
      if (secretFileProblem(ref.file, dir)) throw new SecretError(name, 'not in the secret dir');
      try {
        raw = await readText(secretFilePath(ref.file, dir));
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
