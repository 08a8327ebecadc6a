/**
 * What the controller lets a revision be: sizes (so parsing cannot stall or exhaust it) and the secrets a
 * spec may reference (so a committer cannot read the controller's own environment or files). The defaults
 * are what `gsectl validate` and `gsectl plan` use offline; `gsectl serve` passes its flags.
 */
import { MAX_FRAME_BYTES } from '../protocol/messages.js';

/** Default largest spec file (`*.yaml`) parsed: 1 MiB. Flag `--max-spec-file-bytes`. */
export const DEFAULT_MAX_SPEC_FILE_BYTES = 1024 * 1024;
/** Default largest revision (every file of the spec tree together): 64 MiB. Flag `--max-revision-bytes`. */
export const DEFAULT_MAX_REVISION_BYTES = 64 * 1024 * 1024;
/**
 * Largest ConfigFile content as it travels in a manifest (UTF-8 text JSON-escaped, binary base64): half a
 * frame, so that one file never makes a host's manifest unsendable and leaves room for the others.
 */
export const MAX_CONFIG_FILE_MANIFEST_BYTES = MAX_FRAME_BYTES / 2;
/** Alias references allowed per YAML document (the yaml package's own default `maxAliasCount`). */
export const MAX_YAML_ALIASES = 100;
/** Nodes that alias expansion may add per document, however few aliases do it ("billion laughs"). */
export const MAX_YAML_ALIAS_NODES = 10_000;

/** Size limits of one load. */
export interface SizeLimits {
  /** Largest spec file parsed, in bytes; default DEFAULT_MAX_SPEC_FILE_BYTES. */
  maxSpecFileBytes: number;
  /** Largest spec tree, all files together, in bytes; default DEFAULT_MAX_REVISION_BYTES. */
  maxRevisionBytes: number;
}

/** The size limits with their defaults. */
export const DEFAULT_SIZE_LIMITS: SizeLimits = {
  maxSpecFileBytes: DEFAULT_MAX_SPEC_FILE_BYTES,
  maxRevisionBytes: DEFAULT_MAX_REVISION_BYTES,
};

/**
 * The secrets a controller lets specs reference (`passwordFrom` and every other `*From`): environment
 * variables named in `env`, and files directly inside `dir`. Nothing else resolves.
 */
export interface SecretPolicy {
  /** Environment variable names (`gsectl serve --secret-env A,B`, env GSE_SECRET_ENV). */
  env: readonly string[];
  /** An absolute directory whose files (directly in it) may be referenced (`--secret-dir`, GSE_SECRET_DIR). */
  dir?: string;
}

/** `n` bytes in KiB/MiB for messages. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(n % 1024 === 0 ? 0 : 1)} KiB`;
  return `${n} bytes`;
}
