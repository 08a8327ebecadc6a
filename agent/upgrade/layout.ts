/**
 * The install dir a launcher supervises: `versions/<V>/` (unpacked artifacts), `current` (the version the
 * launcher starts), `launcher` (the version whose code runs the launcher, set by install only),
 * `upgrade.json` (the upgrade record), `downloads/` (partial and verified artifacts), `launcher.json`
 * (pids). Symlinks are switched atomically: a new link under a temporary name, then rename over the old.
 */
import { randomBytes } from 'node:crypto';
import { readlink, rename, rm, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';

/** Exit code by which an agent asks its launcher to start the (new) `current` version at once. */
export const EXIT_RESTART_NEW_VERSION = 75;
/** The variable the launcher sets for the agent it starts: the install dir. */
export const INSTALL_DIR_ENV = 'GSE_AGENT_INSTALL_DIR';
/** Versions as directory names: what `gsectl artifact build --version` accepts. */
export const VERSION_PATTERN = /^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$/;

export interface InstallLayout {
  dir: string;
  versions: string;
  current: string;
  launcher: string;
  record: string;
  downloads: string;
  pids: string;
}

/** The paths of an install dir. */
export function installLayout(dir: string): InstallLayout {
  return {
    dir,
    versions: join(dir, 'versions'),
    current: join(dir, 'current'),
    launcher: join(dir, 'launcher'),
    record: join(dir, 'upgrade.json'),
    downloads: join(dir, 'downloads'),
    pids: join(dir, 'launcher.json'),
  };
}

/** `versions/<V>` of the layout. */
export function versionDir(layout: InstallLayout, version: string): string {
  return join(layout.versions, version);
}

/** The version a link (`current`, `launcher`) points at, or undefined when there is no link. */
export async function linkedVersion(link: string): Promise<string | undefined> {
  try {
    return basename(await readlink(link));
  } catch {
    return undefined;
  }
}

/** Points `link` at `versions/<version>` (relative, so the install dir can move) in one rename. */
export async function switchLink(link: string, version: string): Promise<void> {
  const tmp = `${link}.tmp-${randomBytes(4).toString('hex')}`;
  await symlink(join('versions', version), tmp);
  try {
    await rename(tmp, link);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Strips a leading `v`, so `v1.2.0` and `1.2.0` are one version. */
export function normalizeVersion(version: string): string {
  return version.startsWith('v') ? version.slice(1) : version;
}
