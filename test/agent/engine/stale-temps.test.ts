/**
 * removeStaleTemps (agent/engine/managed-batch.ts): a killed run's temp files beside managed files are
 * removed, this process's own never; with a `swept` set each directory is read once per process.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempPathFor } from '../../../agent/engine/fs-util.js';
import { removeStaleTemps } from '../../../agent/engine/managed-batch.js';
import { type Sandbox, sandbox } from './helpers.js';

describe('removeStaleTemps', () => {
  let box: Sandbox;
  beforeEach(async () => {
    box = await sandbox('gse-stale-');
    await mkdir(join(box.dir, 'etc'));
  });
  afterEach(async () => {
    await box.cleanup();
  });

  it("removes a dead run's temp of a managed file, keeps this run's and other files", async () => {
    const target = join(box.dir, 'etc', 'motd');
    const dead = join(box.dir, 'etc', '.motd.gse-tmp-99999-deadbeef');
    const mine = tempPathFor(target);
    await Promise.all([dead, mine, join(box.dir, 'etc', 'other')].map((f) => writeFile(f, 'x')));
    expect(await removeStaleTemps([target])).toBe(1);
    expect((await readdir(join(box.dir, 'etc'))).sort()).toEqual([mine.split('/').pop(), 'other'].sort());
  });

  it('reads each directory once per process when given the swept set', async () => {
    const target = join(box.dir, 'etc', 'motd');
    const swept = new Set<string>();
    await writeFile(join(box.dir, 'etc', '.motd.gse-tmp-1-aa'), 'x');
    expect(await removeStaleTemps([target], swept)).toBe(1);
    expect([...swept]).toEqual([join(box.dir, 'etc')]);
    // Only a dead process leaves temps: a directory swept in this process is not read again.
    await writeFile(join(box.dir, 'etc', '.motd.gse-tmp-2-bb'), 'x');
    expect(await removeStaleTemps([target], swept)).toBe(0);
    expect(await removeStaleTemps([target], new Set())).toBe(1);
  });
});
