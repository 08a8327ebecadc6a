/**
 * The manifests on disk: `manifest.json` (the last one fully applied) and `manifest.pending.json` (the one
 * being applied, present only while an apply runs or after one was cut short).
 */
import { chmodSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostManifest } from '../src/protocol/manifest.js';
import { PRIVATE_FILE_MODE } from './engine/index.js';

export const MANIFEST_FILE = 'manifest.json';
/** The manifest being applied; present on disk only while an apply runs (or was cut short). */
export const PENDING_MANIFEST_FILE = 'manifest.pending.json';

/** Reads and writes the agent's manifests in its state dir. */
export class ManifestFiles {
  /**
   * False once this process knows there is no pending file (it removed it, or renamed it into
   * manifest.json, and wrote none since): removing one then needs no unlink, whose ENOENT costs a thrown
   * error each time a held manifest is re-verified. Only this agent writes its 0700 state dir.
   */
  private pendingMayExist = true;

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
    this.pendingMayExist = true;
    return writeManifest(this.stateDir, target, PENDING_MANIFEST_FILE);
  }

  /**
   * Removes a pending mark of the manifest already applied (left by a run that died re-verifying it); a
   * missing file is fine.
   */
  dropPending(): void {
    if (!this.pendingMayExist) return;
    try {
      unlinkSync(join(this.stateDir, PENDING_MANIFEST_FILE));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.pendingMayExist = false;
  }

  /**
   * Records the pending manifest as applied: one rename of the pending file (it holds the same bytes), so
   * `manifest.json` is the old manifest or the new one, never a mix, and the pending mark goes with it.
   * When there is no pending file (it was removed by hand), `target` is written in full.
   */
  async commit(target: HostManifest): Promise<void> {
    try {
      renameSync(join(this.stateDir, PENDING_MANIFEST_FILE), join(this.stateDir, MANIFEST_FILE));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await writeManifest(this.stateDir, target, MANIFEST_FILE);
    }
    this.pendingMayExist = false;
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
  // Synchronous, as the engine's small writes are (agent/engine/local-fs.ts).
  writeFileSync(tmp, JSON.stringify(manifest), { mode: PRIVATE_FILE_MODE });
  chmodSync(tmp, PRIVATE_FILE_MODE); // manifests carry file contents: never readable by others
  renameSync(tmp, join(stateDir, file));
}
