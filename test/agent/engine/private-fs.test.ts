import { chmod, mkdir, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { saveBackup } from '../../../agent/engine/backups.js';
import { OwnershipLedger } from '../../../agent/engine/ownership.js';
import { ensurePrivateDir, makePrivateDir, openPrivateStateDir } from '../../../agent/engine/private-fs.js';
import { Spool } from '../../../agent/engine/spool.js';
import { TaskLedger } from '../../../agent/engine/task-ledger.js';
import { writeIdentity } from '../../../agent/identity.js';
import { eventMessage, type Sandbox, sandbox, steppingClock } from './helpers.js';

const modeOf = async (p: string) => (await stat(p)).mode & 0o777;

/** Every file under `dir` (recursively) with its mode. */
async function modes(dir: string): Promise<Array<{ path: string; mode: number; dir: boolean }>> {
  const out: Array<{ path: string; mode: number; dir: boolean }> = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push({ path: p, mode: await modeOf(p), dir: e.isDirectory() });
    if (e.isDirectory()) out.push(...(await modes(p)));
  }
  return out;
}

describe('agent state files', () => {
  let box: Sandbox;
  let oldUmask: number;
  beforeEach(async () => {
    box = await sandbox('gse-private-');
    // The loosest umask: the modes must come from the code, not from the umask.
    oldUmask = process.umask(0);
  });
  afterEach(async () => {
    process.umask(oldUmask);
    await box.cleanup();
  });

  it('creates identity, spool, ledgers and backups 0600 in 0700 dirs when the umask is 0', async () => {
    const state = join(box.dir, 'var/lib/gse-agent');
    await writeIdentity(state, { agentId: 'a1', credential: 'secret' });
    const spool = await Spool.open(join(state, 'spool'));
    await spool.append(eventMessage(1));
    const ledger = await TaskLedger.open(join(state, 'tasks.log'));
    const owned = await OwnershipLedger.open(join(state, 'owned.json'));
    await owned.add('/etc/x');
    await saveBackup(state, '/etc/x', Buffer.from('old'), steppingClock());
    await spool.close();
    await ledger.close();
    expect(await modeOf(state)).toBe(0o700);
    // Parents created on the way are ordinary directories.
    expect(await modeOf(join(box.dir, 'var/lib'))).toBe(0o755);
    const all = await modes(state);
    expect(all.map((e) => e.path.slice(state.length + 1)).sort()).toEqual(
      expect.arrayContaining(['identity.json', 'tasks.log', 'owned.json', 'spool', 'backups']),
    );
    for (const e of all)
      expect({ path: e.path, mode: e.mode }).toEqual({ path: e.path, mode: e.dir ? 0o700 : 0o600 });
  });

  it('tightens a state dir left with loose modes when it is opened again', async () => {
    const state = join(box.dir, 'state');
    await mkdir(join(state, 'backups/x'), { recursive: true, mode: 0o777 });
    await writeFile(join(state, 'identity.json'), '{}', { mode: 0o644 });
    await writeFile(join(state, 'backups/x/1.bak'), 'old', { mode: 0o666 });
    await writeFile(join(state, 'unrelated.txt'), 'not the agent file', { mode: 0o644 });
    await chmod(state, 0o755);
    await openPrivateStateDir(state);
    expect(await modeOf(state)).toBe(0o700);
    expect(await modeOf(join(state, 'backups'))).toBe(0o700);
    expect(await modeOf(join(state, 'backups/x'))).toBe(0o700);
    expect(await modeOf(join(state, 'identity.json'))).toBe(0o600);
    expect(await modeOf(join(state, 'backups/x/1.bak'))).toBe(0o600);
    // Only the agent's own entries are touched.
    expect(await modeOf(join(state, 'unrelated.txt'))).toBe(0o644);
  });

  it('refuses a shared sticky directory such as /tmp as state dir, and leaves its mode alone', async () => {
    const shared = join(box.dir, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    await expect(openPrivateStateDir(shared)).rejects.toThrow(
      `state dir ${shared} is a shared directory (sticky bit, like /tmp) or not a directory; give the agent a directory of its own with --state-dir`,
    );
    expect((await stat(shared)).mode & 0o7777).toBe(0o1777);
  });

  it('ensures a private directory: creates it 0700, tightens a loose one, refuses a link or a file', async () => {
    const dir = join(box.dir, 'a/b/private');
    await ensurePrivateDir(dir);
    expect(await modeOf(dir)).toBe(0o700);
    expect(await modeOf(join(box.dir, 'a/b'))).toBe(0o755);
    await chmod(dir, 0o755);
    await ensurePrivateDir(dir);
    expect(await modeOf(dir)).toBe(0o700);
    expect(await makePrivateDir(dir)).toBe(false);
    await symlink(dir, join(box.dir, 'link'));
    await expect(ensurePrivateDir(join(box.dir, 'link'))).rejects.toThrow(/not a directory/);
    await writeFile(join(box.dir, 'file'), 'x');
    await expect(ensurePrivateDir(join(box.dir, 'file'))).rejects.toThrow(/not a directory/);
    expect(await makePrivateDir(join(box.dir, 'file'))).toBe(false);
  });
});
