/**
 * Checks of a whole revision against what this controller allows (run on every load, after the
 * cross-reference pass; cheap, no I/O): ConfigFile sources that are symlinks, ConfigFile content too large
 * for a manifest frame, and secret references outside the operator's allow-list.
 */
import { posix } from 'node:path';
import { type PlaceField, recordedPosition } from './deferred-positions.js';
import { formatFieldPath, type PathSegment } from './field-path.js';
import { formatBytes, MAX_CONFIG_FILE_MANIFEST_BYTES, type SecretPolicy } from './limits.js';
import { secretRefsIn } from './secret-refs.js';
import type { ConfigFile, SecretRef, SpecError } from './types.js';
import type { ValidatedDoc } from './validate-doc.js';

/** What a revision is checked against. */
export interface PolicyInput {
  tree: ReadonlyMap<string, Buffer>;
  /** Symlinks of the tree (path -> link text); never followed. */
  symlinks: ReadonlyMap<string, string>;
  /** The secrets this controller allows; undefined offline (`gsectl validate`), where refs are not checked. */
  secrets?: SecretPolicy;
  /** Finds the fields errors name; default the positions recorded in each document's `refs`. */
  place?: PlaceField;
}

function errorAt(
  input: PolicyInput,
  d: ValidatedDoc,
  path: readonly PathSegment[],
  message: string,
): SpecError {
  const printed = formatFieldPath(path);
  return { ...(input.place ?? recordedPosition)(d, printed), path: printed, message };
}

/** The symlink a repo path is, or passes through (`files/link/x` when `files/link` is one). */
function symlinkOn(path: string, symlinks: ReadonlyMap<string, string>): string | undefined {
  const parts = path.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    if (symlinks.has(prefix)) return prefix;
  }
  return undefined;
}

/** Bytes the content takes in a manifest frame: JSON-escaped UTF-8 text, or base64 for binary. */
export function manifestContentBytes(bytes: Buffer): number {
  const text = bytes.includes(0) ? undefined : bytes.toString('utf8');
  if (text === undefined || !Buffer.from(text, 'utf8').equals(bytes)) return Math.ceil(bytes.length / 3) * 4;
  return Buffer.byteLength(JSON.stringify(text)) - 2;
}

function configFileErrors(d: ValidatedDoc, cf: ConfigFile, input: PolicyInput): SpecError[] {
  const errors: SpecError[] = [];
  const { source, content } = cf.spec;
  let bytes: Buffer | undefined;
  if (source !== undefined) {
    const link = symlinkOn(source, input.symlinks);
    if (link !== undefined) {
      const target = input.symlinks.get(link) ?? '?';
      const through = link === source ? 'is a symlink' : `is under "${link}", a symlink`;
      errors.push(
        errorAt(
          input,
          d,
          ['spec', 'source'],
          `"${source}" ${through} (-> ${target}); sources must be regular files in the repo: commit the file itself instead of a link`,
        ),
      );
      return errors;
    }
    bytes = input.tree.get(source);
  } else if (content !== undefined) bytes = Buffer.from(content, 'utf8');
  if (bytes) {
    const size = manifestContentBytes(bytes);
    if (size > MAX_CONFIG_FILE_MANIFEST_BYTES) {
      const field = source !== undefined ? 'source' : 'content';
      errors.push(
        errorAt(
          input,
          d,
          ['spec', field],
          `ConfigFile "${cf.metadata.name}" is ${formatBytes(size)} in a manifest, over the limit of ${formatBytes(MAX_CONFIG_FILE_MANIFEST_BYTES)} per file (a host's manifest must fit one agent frame); keep large files out of ConfigFiles (ship them as an AgentVersion artifact or fetch them from a package repository) or split the file`,
        ),
      );
    }
  }
  return errors;
}

/** The allow-list as printed in messages. */
function allowedText(policy: SecretPolicy): string {
  const env = policy.env.length > 0 ? `env ${policy.env.join(', ')}` : 'no env variables';
  const dir = policy.dir ? `files directly in ${policy.dir}` : 'no files (no --secret-dir)';
  return `${env}; ${dir}`;
}

/** Why a reference is outside the policy, or undefined when it is allowed. */
export function secretRefProblem(ref: SecretRef, policy: SecretPolicy): string | undefined {
  if ('env' in ref) {
    if (policy.env.includes(ref.env)) return undefined;
    return `secret env "${ref.env}" is not allowed on this controller (allowed: ${allowedText(policy)}); reference an allowed variable, or have the operator add it with gsectl serve --secret-env ${ref.env}`;
  }
  const problem = secretFileProblem(ref.file, policy.dir);
  if (problem === undefined) return undefined;
  return `secret file "${ref.file}" ${problem} (allowed: ${allowedText(policy)}); name a file directly in the secret dir, e.g. {file: redis-password}`;
}

/**
 * Why a `{file}` reference is not a file directly in `dir` (a bare name, or `dir/name`), or undefined.
 * Symlinks inside `dir` are refused when the secret is read (O_NOFOLLOW), not here: validation does no I/O.
 */
export function secretFileProblem(file: string, dir: string | undefined): string | undefined {
  if (!dir) return 'is not allowed: this controller has no --secret-dir';
  const name = posix.isAbsolute(file) ? (posix.dirname(file) === dir ? posix.basename(file) : '') : file;
  if (name === '') return `is not directly in the secret dir ${dir}`;
  if (name.includes('/') || name.includes('\\') || name === '.' || name === '..' || name.startsWith('.'))
    return `is not a plain file name in the secret dir ${dir} (no "/", "..", or hidden files)`;
  return undefined;
}

/** Every policy error of a revision's valid documents. */
export function policyErrors(docs: ValidatedDoc[], input: PolicyInput): SpecError[] {
  const errors: SpecError[] = [];
  for (const d of docs) {
    const r = d.resource;
    if (!r) continue;
    if (r.kind === 'ConfigFile') errors.push(...configFileErrors(d, r, input));
    if (input.secrets) {
      for (const { path, ref } of secretRefsIn(r.spec, ['spec'])) {
        const problem = secretRefProblem(ref, input.secrets);
        if (problem) errors.push(errorAt(input, d, path, problem));
      }
    }
  }
  return errors;
}
