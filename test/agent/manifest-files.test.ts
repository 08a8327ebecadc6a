/**
 * The agent's manifests on disk (agent/manifest-files.ts): pending first, then a commit that renames the
 * pending file over `manifest.json`, so the applied manifest is the old one or the new one, never a mix.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MANIFEST_FILE, ManifestFiles, PENDING_MANIFEST_FILE } from '../../agent/manifest-files.js';
import type { HostManifest } from '../../src/protocol/manifest.js';
import { type Sandbox, sandbox } from './engine/helpers.js';

const manifest = (hash: string): HostManifest =>
  ({ hash, revision: `rev-${hash}`, hostId: 'h1', labels: {}, items: [] }) as unknown as HostManifest;

describe('ManifestFiles', () => {
  let box: Sandbox;
  let files: ManifestFiles;
  beforeEach(async () => {
    box = await sandbox('gse-manifests-');
    files = new ManifestFiles(box.dir);
  });
  afterEach(async () => {
    await box.cleanup();
  });

  it('keeps the applied manifest while one is pending, and commits the pending one by rename', async () => {
    await files.writePending(manifest('a'));
    await files.commit(manifest('a'));
    await files.writePending(manifest('b'));
    // Killed here: the applied manifest is still a, and b is what the next run must finish applying.
    expect((await files.readCurrent())?.hash).toBe('a');
    expect((await files.readPending())?.hash).toBe('b');

    const pendingIno = (await stat(join(box.dir, PENDING_MANIFEST_FILE))).ino;
    await files.commit(manifest('b'));
    expect((await files.readCurrent())?.hash).toBe('b');
    expect(await files.readPending()).toBeUndefined();
    // The pending file itself became manifest.json (no second write), private like every state file.
    const current = await stat(join(box.dir, MANIFEST_FILE));
    expect(current.ino).toBe(pendingIno);
    expect(current.mode & 0o777).toBe(0o600);
    expect((await readdir(box.dir)).sort()).toEqual([MANIFEST_FILE]);
  });

  it('writes the target in full when the pending file is gone', async () => {
    await files.writePending(manifest('a'));
    await rm(join(box.dir, PENDING_MANIFEST_FILE));
    await files.commit(manifest('a'));
    expect((await files.readCurrent())?.hash).toBe('a');
    expect((await readdir(box.dir)).sort()).toEqual([MANIFEST_FILE]);
  });
});
