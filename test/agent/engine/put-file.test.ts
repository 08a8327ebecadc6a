/** putFile (GSE file transfer, agent side) on a real file system under a --root sandbox. */
import { mkdir, readFile, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PUT_FILE_FAILED_EXIT_CODE, putFile } from '../../../agent/engine/put-file.js';
import { type Sandbox, sandbox, steppingClock } from './helpers.js';

describe('putFile', () => {
  let box: Sandbox;
  let root: string;
  const deps = () => ({ root, stateDir: join(root, 'var/lib/gse-agent'), clock: steppingClock() });
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  beforeEach(async () => {
    box = await sandbox('gse-putfile-');
    root = join(box.dir, 'root');
    await mkdir(root);
  });
  afterEach(() => box.cleanup());

  it('writes the bytes under the root with the mode asked for, creating directories when told', async () => {
    const out = await putFile(
      { path: '/opt/app/a.conf', content: b64('x=1\n'), mode: 0o600, mkdir: true },
      deps(),
    );
    expect(out).toMatchObject({ exitCode: 0, timedOut: false, killed: false });
    expect(out.stdoutTail).toContain('wrote /opt/app/a.conf (4 bytes');
    expect(await readFile(join(root, 'opt/app/a.conf'), 'utf8')).toBe('x=1\n');
    expect((await stat(join(root, 'opt/app/a.conf'))).mode & 0o7777).toBe(0o600);
  });

  it('fails, naming the path, when the directory is missing and mkdir is off', async () => {
    const out = await putFile({ path: '/missing/a.conf', content: b64('x'), mkdir: false }, deps());
    expect(out.exitCode).toBe(PUT_FILE_FAILED_EXIT_CODE);
    expect(out.stderrTail).toContain('cannot write /missing/a.conf');
  });

  it('refuses a symlink in the path and a path in the state dir', async () => {
    await symlink(box.dir, join(root, 'escape'));
    const link = await putFile({ path: '/escape/a.conf', content: b64('x'), mkdir: true }, deps());
    expect(link.exitCode).toBe(PUT_FILE_FAILED_EXIT_CODE);
    expect(link.stderrTail).toMatch(/symlink/i);
    const state = await putFile(
      { path: '/var/lib/gse-agent/identity.json', content: b64('x'), mkdir: true },
      deps(),
    );
    expect(state.exitCode).toBe(PUT_FILE_FAILED_EXIT_CODE);
    await expect(stat(join(root, 'var/lib/gse-agent/identity.json'))).rejects.toThrow();
  });

  it('fails with the reason when the owner is unknown, leaving nothing behind', async () => {
    const out = await putFile(
      { path: '/b.conf', content: b64('x'), owner: 'no-such-user-gse', mkdir: true },
      deps(),
    );
    expect(out.exitCode).toBe(PUT_FILE_FAILED_EXIT_CODE);
    expect(out.stderrTail).toContain('no-such-user-gse');
    await expect(stat(join(root, 'b.conf'))).rejects.toThrow();
  });
});
