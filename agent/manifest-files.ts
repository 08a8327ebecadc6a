/**
 * The manifests on disk: `manifest.json` (the last one fully applied) and `manifest.pending.json` (the one
 * being applied, present only while an apply runs or after one was cut short).
 */
import { chmod, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostManifest } from '../src/protocol/manifest.js';
import { PRIVATE_FILE_MODE } from './engine/index.js';

export const MANIFEST_FILE = 'manifest.json';
/** The manifest being applied; present on disk only while an apply runs (or was cut short). */
export const PENDING_MANIFEST_FILE = 'manifest.pending.json';

/** Reads and writes the agent's manifests in its state dir. */
export class ManifestFiles {
  constructor(private readonly stateDir: string) {}

  /** The last fully applied manifest, or undefined when there is none (or it cannot be read). */
  readCurrent(): Promise<HostManifest | undefined> {
    return readManifest(this.stateDir, MANIFEST_FILE);
  }

  /** The manifest an earlier run died applying, if any. */
  readPending(): Promise<HostManifest | undefined> {
    return readManifest(this.stateDir, PENDING_MANIFEST_FILE);
  }

  /** Marks `target` as being applied, before anything on the host changes. */
  writePending(target: HostManifest): Promise<void> {
    return writeManifest(this.stateDir, target, PENDING_MANIFEST_FILE);
  }

  /** Records `target` as applied and drops the pending mark. */
  async commit(target: HostManifest): Promise<void> {
    await writeManifest(this.stateDir, target, MANIFEST_FILE);
    await rm(join(this.stateDir, PENDING_MANIFEST_FILE), { force: true });
  }
}

async function readManifest(stateDir: string, file: string): Promise<HostManifest | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, file), 'utf8')) as HostManifest;
  } catch {
    return undefined;
  }
}

async function writeManifest(stateDir: string, manifest: HostManifest, file: string): Promise<void> {
  const tmp = join(stateDir, `${file}.tmp`);
  await writeFile(tmp, JSON.stringify(manifest), { mode: PRIVATE_FILE_MODE });
  await chmod(tmp, PRIVATE_FILE_MODE); // manifests carry file contents: never readable by others
  await rename(tmp, join(stateDir, file));
}
