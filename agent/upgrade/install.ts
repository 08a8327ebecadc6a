/**
 * `gse-agent install --artifact FILE --install-dir D`: unpacks a package built by `gsectl artifact build` as
 * `D/versions/<V>/` and points `D/current` (what the launcher starts) and `D/launcher` (whose code runs the
 * launcher) at it. Idempotent: installing the same file again changes nothing.
 */
import { mkdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileSha256 } from './download.js';
import { ArtifactContentError } from './errors.js';
import { installLayout, linkedVersion, switchLink } from './layout.js';
import { readUpgradeRecord, writeUpgradeRecord } from './record.js';
import { unpackVersion } from './unpack.js';

export interface InstallResult {
  installDir: string;
  version: string;
  sha256: string;
  /** The version `current` pointed at before, if any. */
  previous?: string;
}

/** Installs `artifact` into `installDir` and makes it the current version. Throws ArtifactContentError. */
export async function installArtifact(opts: {
  artifact: string;
  installDir: string;
}): Promise<InstallResult> {
  const artifact = resolve(opts.artifact);
  const st = await stat(artifact).catch(() => undefined);
  if (!st?.isFile())
    throw new ArtifactContentError(
      `--artifact ${artifact}: no such file (build one with "gsectl artifact build --version V --out DIR")`,
    );
  const layout = installLayout(resolve(opts.installDir));
  await mkdir(layout.dir, { recursive: true, mode: 0o755 });
  const sha256 = await fileSha256(artifact);
  const previous = await linkedVersion(layout.current);
  const launcher = await linkedVersion(layout.launcher);
  const { version } = await unpackVersion({
    tgz: artifact,
    versionsDir: layout.versions,
    sha256,
    inUse: (v) => v === previous || v === launcher,
  });
  await switchLink(layout.current, version);
  await switchLink(layout.launcher, version);
  // An operator's install wins over an upgrade left half-way: the launcher must not finish or roll it back.
  const record = await readUpgradeRecord(layout.record);
  const state = record.current?.state;
  if (state && state !== 'healthy' && state !== 'failed') {
    await writeUpgradeRecord(layout.record, { failed: record.failed });
  }
  return { installDir: layout.dir, version, sha256, ...(previous ? { previous } : {}) };
}
