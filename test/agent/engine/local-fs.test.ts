import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  statfsSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fdatasyncFd, fsyncFd, onMemoryFs, readOpenFile } from '../../../agent/engine/local-fs.js';

const TMPFS_MAGIC = 0x01021994;
/** /dev/shm when it is a tmpfs here (it is on Linux hosts and most containers). */
const shm = existsSync('/dev/shm') && statfsSync('/dev/shm').type === TMPFS_MAGIC ? '/dev/shm' : undefined;

describe('onMemoryFs', () => {
  it.skipIf(!shm)('is true for a directory on tmpfs', async () => {
    const dir = await mkdtemp(join(shm as string, 'gse-memfs-'));
    try {
      expect(onMemoryFs(dir)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('counts a directory it cannot ask about as a disk', () => {
    expect(onMemoryFs('/nonexistent/gse-memfs-probe')).toBe(false);
  });

  it('is false for /proc, which is no memory file system of the two', () => {
    expect(onMemoryFs('/proc')).toBe(false);
  });
});

describe.each([
  ['a memory file system', shm],
  ['the temp dir', undefined],
])('fsyncFd and fdatasyncFd on %s', (_what, base) => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(base ?? (process.env.TMPDIR || '/tmp'), 'gse-fsync-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('syncs an open file and leaves its content', async () => {
    const file = join(dir, 'f');
    const fd = openSync(file, 'w');
    try {
      writeSync(fd, 'data\n');
      await fsyncFd(fd, dir);
      await fdatasyncFd(fd, dir);
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(file, 'utf8')).toBe('data\n');
  });

  it('rejects (never throws) on a bad descriptor', async () => {
    const fd = openSync(join(dir, 'g'), 'w');
    closeSync(fd);
    let thrown: unknown;
    let sync: Promise<void> | undefined;
    try {
      sync = fsyncFd(fd, dir);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeUndefined();
    await expect(sync).rejects.toMatchObject({ code: 'EBADF' });
    await expect(fdatasyncFd(fd, dir)).rejects.toMatchObject({ code: 'EBADF' });
  });
});

describe('readOpenFile', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(process.env.TMPDIR || '/tmp', 'gse-read-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the whole file at the size its fstat gave, empty files included', () => {
    for (const content of ['', 'one line\n', 'x'.repeat(200_000)]) {
      const file = join(dir, 'f');
      writeFileSync(file, content);
      const fd = openSync(file, 'r');
      try {
        expect(readOpenFile(fd, fstatSync(fd).size).toString()).toBe(content);
      } finally {
        closeSync(fd);
      }
    }
  });

  it('returns what is left when the file shrank after its fstat', () => {
    const file = join(dir, 'g');
    writeFileSync(file, 'abcdef');
    const fd = openSync(file, 'r+');
    try {
      const { size } = fstatSync(fd);
      ftruncateSync(fd, 2);
      expect(readOpenFile(fd, size).toString()).toBe('ab');
    } finally {
      closeSync(fd);
    }
  });
});
