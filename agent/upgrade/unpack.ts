/**
 * Unpacks a verified artifact beside the versions already there: into a temp dir under `versions/`, checked
 * (it must be a gse-agent package of the wanted version), then renamed to `versions/<V>` in one step.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ArtifactContentError } from './errors.js';
import { normalizeVersion } from './layout.js';

const run = promisify(execFile);
/** Where a package records its version (the agent reads it at start, agent/facts.ts). */
export const PACKAGE_VERSION_FILE = 'dist/VERSION';
/** The sha256 of the artifact an unpacked version came from. */
const SOURCE_SHA_FILE = '.artifact-sha256';

/** Extracts `tgz` into a new dir (system tar; no owners, no absolute or `..` names). */
export async function extractArchive(tgz: string, into: string): Promise<void> {
  await mkdir(into, { recursive: true, mode: 0o755 });
  try {
    await run('tar', ['-xzf', tgz, '-C', into, '--no-same-owner', '--no-same-permissions']);
  } catch (err) {
    throw new ArtifactContentError(
      `cannot unpack ${tgz}: ${(err as { stderr?: string }).stderr || (err as Error).message}`,
      { cause: err },
    );
  }
}

/** The version a package dir declares (`dist/VERSION`). */
export async function packageVersion(dir: string): Promise<string> {
  try {
    return (await readFile(join(dir, PACKAGE_VERSION_FILE), 'utf8')).trim();
  } catch {
    throw new ArtifactContentError(
      `not a gse-agent package: ${PACKAGE_VERSION_FILE} is missing (build it with gsectl artifact build)`,
    );
  }
}

/**
 * Unpacks `tgz` as `versionsDir/<version>`. An existing dir from the same artifact is kept; one from
 * another artifact is replaced unless `keep(version)` says it is in use. Returns the version dir.
 */
export async function unpackVersion(opts: {
  tgz: string;
  versionsDir: string;
  /** The version the package must declare; undefined: take what it declares. */
  version?: string;
  sha256: string;
  /** True for versions that must not be replaced (the running one). */
  inUse(version: string): boolean;
}): Promise<{ version: string; dir: string }> {
  await mkdir(opts.versionsDir, { recursive: true, mode: 0o755 });
  const tmp = join(opts.versionsDir, `.unpack-${randomBytes(4).toString('hex')}`);
  try {
    await extractArchive(opts.tgz, tmp);
    const declared = await packageVersion(tmp);
    if (opts.version !== undefined && normalizeVersion(declared) !== normalizeVersion(opts.version))
      throw new ArtifactContentError(
        `the artifact holds version ${declared}, the AgentVersion wants ${opts.version}; build it with gsectl artifact build --version ${opts.version}`,
      );
    const version = opts.version ?? declared;
    const dir = join(opts.versionsDir, version);
    const existing = await readFile(join(dir, SOURCE_SHA_FILE), 'utf8').catch(() => undefined);
    if (existing?.trim() === opts.sha256) return { version, dir };
    if (await stat(dir).catch(() => undefined)) {
      if (opts.inUse(version))
        throw new ArtifactContentError(
          `version ${version} is installed from another artifact and in use; it is not replaced`,
        );
      await rm(dir, { recursive: true, force: true });
    }
    await writeFile(join(tmp, SOURCE_SHA_FILE), `${opts.sha256}\n`);
    await rename(tmp, dir);
    return { version, dir };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
