import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backupDir, listBackups, saveBackup, saveBackups } from '../../../agent/engine/backups.js';
import { type Sandbox, sandbox, steppingClock } from './helpers.js';

describe('saveBackups', () => {
  let box: Sandbox;
  let state: string;
  const clock = steppingClock();
  beforeEach(async () => {
    box = await sandbox('gse-backups-');
    state = join(box.dir, 'state');
  });
  afterEach(async () => {
    await box.cleanup();
  });

  const contents = async (path: string) =>
    Promise.all((await listBackups(state, path)).map((f) => readFile(f, 'utf8')));

  it('keeps the newest `keep` of each path, oldest first, in 0700 directories', async () => {
    for (let i = 1; i <= 4; i++) {
      await saveBackups(
        state,
        [
          { path: '/etc/a.conf', content: Buffer.from(`a${i}`) },
          { path: '/etc/b.conf', content: Buffer.from(`b${i}`) },
        ],
        clock,
        2,
      );
    }
    expect(await contents('/etc/a.conf')).toEqual(['a3', 'a4']);
    expect(await contents('/etc/b.conf')).toEqual(['b3', 'b4']);
    expect((await stat(backupDir(state, '/etc/a.conf'))).mode & 0o777).toBe(0o700);
  });

  it('makes the backup directory again when it was removed by hand since the last save', async () => {
    await saveBackup(state, '/etc/a.conf', Buffer.from('one'), clock, 3);
    await rm(join(state, 'backups'), { recursive: true });
    await saveBackup(state, '/etc/a.conf', Buffer.from('two'), clock, 3);
    expect(await contents('/etc/a.conf')).toEqual(['two']);
    expect((await stat(join(state, 'backups'))).mode & 0o777).toBe(0o700);
  });

  it('goes back to `keep` backups after some were deleted by hand', async () => {
    for (let i = 1; i <= 3; i++) await saveBackup(state, '/etc/a.conf', Buffer.from(`v${i}`), clock, 3);
    const [oldest] = await listBackups(state, '/etc/a.conf');
    await rm(oldest as string);
    for (let i = 4; i <= 7; i++) await saveBackup(state, '/etc/a.conf', Buffer.from(`v${i}`), clock, 3);
    expect(await contents('/etc/a.conf')).toEqual(['v5', 'v6', 'v7']);
  });
});
