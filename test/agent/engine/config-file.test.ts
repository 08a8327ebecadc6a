import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKUPS_KEPT_PER_PATH, listBackups } from '../../../agent/engine/backups.js';
import { type ConfigFileDeps, pruneConfigFile } from '../../../agent/engine/config-file.js';
import { convergeConfigFile } from '../../../agent/engine/converge-files.js';
import { OwnershipLedger } from '../../../agent/engine/ownership.js';
import { configFile, type Sandbox, sandbox, sha256, steppingClock } from './helpers.js';

describe('convergeConfigFile', () => {
  let box: Sandbox;
  let root: string;
  let deps: ConfigFileDeps;
  beforeEach(async () => {
    box = await sandbox('gse-cfg-');
    root = join(box.dir, 'root');
    const stateDir = join(box.dir, 'state');
    deps = {
      root,
      stateDir,
      clock: steppingClock(),
      ownership: await OwnershipLedger.open(join(stateDir, 'owned.json')),
    };
  });
  afterEach(() => box.cleanup());

  it('creates the file with its parents and mode, and owns it, when it is new', async () => {
    const item = configFile('app', '/etc/app/conf.d/app.conf', 'a=1\n', { mode: 0o640 });
    const res = await convergeConfigFile(item, deps);
    expect(res).toMatchObject({ state: 'changed', contentChanged: true, modeChanged: false, created: true });
    expect(res.observedHash).toBe(sha256('a=1\n'));
    const abs = join(root, 'etc/app/conf.d/app.conf');
    expect(res.path).toBe(abs);
    expect(await readFile(abs, 'utf8')).toBe('a=1\n');
    expect((await stat(abs)).mode & 0o7777).toBe(0o640);
    expect(deps.ownership.has(item.path)).toBe(true);
    const reloaded = await OwnershipLedger.open(join(deps.stateDir, 'owned.json'));
    expect(reloaded.has(item.path)).toBe(true);
  });

  it('reports ok and writes nothing when content and mode already match', async () => {
    const item = configFile('app', '/etc/app.conf', 'same\n');
    await convergeConfigFile(item, deps);
    const before = await stat(join(root, 'etc/app.conf'));
    const res = await convergeConfigFile(item, deps);
    expect(res).toMatchObject({ state: 'ok', contentChanged: false, modeChanged: false, created: false });
    expect((await stat(join(root, 'etc/app.conf'))).ino).toBe(before.ino);
    expect(await listBackups(deps.stateDir, item.path)).toEqual([]);
  });

  it('replaces the content and backs up the old one when the content differs', async () => {
    const abs = join(root, 'etc/app.conf');
    await mkdir(join(root, 'etc'), { recursive: true });
    await writeFile(abs, 'old\n', { mode: 0o644 });
    const item = configFile('app', '/etc/app.conf', 'new\n');
    const res = await convergeConfigFile(item, deps);
    expect(res).toMatchObject({ state: 'changed', contentChanged: true, modeChanged: false, created: false });
    expect(await readFile(abs, 'utf8')).toBe('new\n');
    const backups = await listBackups(deps.stateDir, item.path);
    expect(backups).toHaveLength(1);
    expect(await readFile(backups[0] as string, 'utf8')).toBe('old\n');
    expect(deps.ownership.has(item.path)).toBe(false);
  });

  it('only changes the mode, in place, when the content already matches', async () => {
    const item = configFile('app', '/etc/app.conf', 'x\n', { mode: 0o600 });
    await convergeConfigFile(item, deps);
    const abs = join(root, 'etc/app.conf');
    await chmod(abs, 0o666);
    const ino = (await stat(abs)).ino;
    const res = await convergeConfigFile(item, deps);
    expect(res).toMatchObject({ state: 'changed', contentChanged: false, modeChanged: true });
    expect(res.message).toBe('mode 0666 -> 0600');
    expect((await stat(abs)).mode & 0o7777).toBe(0o600);
    expect((await stat(abs)).ino).toBe(ino);
  });

  it(`keeps the newest ${BACKUPS_KEPT_PER_PATH} backups when the content changes many times`, async () => {
    for (let i = 0; i < 8; i++) await convergeConfigFile(configFile('app', '/etc/app.conf', `v${i}\n`), deps);
    const backups = await listBackups(deps.stateDir, '/etc/app.conf');
    expect(backups).toHaveLength(BACKUPS_KEPT_PER_PATH);
    const contents = await Promise.all(backups.map((b) => readFile(b, 'utf8')));
    expect(contents).toEqual(['v2\n', 'v3\n', 'v4\n', 'v5\n', 'v6\n']);
  });

  it('decodes base64 content when the encoding says so', async () => {
    const bytes = Buffer.from([0, 1, 2, 255]);
    const item = {
      ...configFile('bin', '/opt/blob.bin', ''),
      content: bytes.toString('base64'),
      encoding: 'base64' as const,
      contentHash: sha256(bytes),
    };
    expect((await convergeConfigFile(item, deps)).state).toBe('changed');
    expect(await readFile(join(root, 'opt/blob.bin'))).toEqual(bytes);
  });

  it('reports the owner as not applied, without failing, when the agent is not root', async () => {
    const item = configFile('app', '/etc/app.conf', 'x\n', { owner: 'root:root' });
    const res = await convergeConfigFile(item, { ...deps, runningAsRoot: false });
    expect(res.state).toBe('changed');
    expect(res.message).toBe('created; owner root:root not applied: agent is not root');
  });

  it.skipIf(process.getuid?.() !== 0)('chowns to the named user and group when running as root', async () => {
    const passwdPath = join(box.dir, 'passwd');
    const groupPath = join(box.dir, 'group');
    await writeFile(passwdPath, 'root:x:0:0::/root:/bin/sh\nsvc:x:4242:4343::/:/bin/false\n');
    await writeFile(groupPath, 'root:x:0:\nsvcgrp:x:4343:\nother:x:4444:\n');
    const userDb = { passwdPath, groupPath };
    const item = configFile('app', '/etc/app.conf', 'x\n', { owner: 'svc:other' });
    const res = await convergeConfigFile(item, { ...deps, runningAsRoot: true, userDb });
    expect(res).toMatchObject({ state: 'changed', ownerChanged: true });
    const st = await stat(join(root, 'etc/app.conf'));
    expect([st.uid, st.gid]).toEqual([4242, 4444]);
    const primary = await convergeConfigFile(
      { ...item, owner: 'svc' },
      { ...deps, runningAsRoot: true, userDb },
    );
    expect(primary).toMatchObject({ state: 'changed', ownerChanged: true, contentChanged: false });
    expect((await stat(join(root, 'etc/app.conf'))).gid).toBe(4343);
    const unknown = await convergeConfigFile(
      { ...item, owner: 'nobody-here' },
      { ...deps, runningAsRoot: true, userDb },
    );
    expect(unknown.state).toBe('failed');
    expect(unknown.message).toMatch(/^OWNER_UNKNOWN: owner "nobody-here": unknown user/);
  });

  it.each([
    { name: 'escapes the root', path: '/../outside.conf', error: /^PATH_ESCAPE: / },
    { name: 'is relative', path: 'etc/app.conf', error: /^PATH_RELATIVE: / },
  ])('fails without writing when the path $name', async ({ path, error }) => {
    const res = await convergeConfigFile(configFile('bad', path, 'x'), deps);
    expect(res.state).toBe('failed');
    expect(res.message).toMatch(error);
    await expect(stat(join(box.dir, 'outside.conf'))).rejects.toThrow(/ENOENT/);
  });

  it('fails when the content does not match its declared hash', async () => {
    const item = { ...configFile('app', '/etc/app.conf', 'x'), contentHash: sha256('y') };
    const res = await convergeConfigFile(item, deps);
    expect(res.state).toBe('failed');
    expect(res.message).toMatch(/^CONTENT_HASH_MISMATCH: /);
  });

  it('fails when a directory sits at the path', async () => {
    await mkdir(join(root, 'etc/app.conf'), { recursive: true });
    const res = await convergeConfigFile(configFile('app', '/etc/app.conf', 'x'), deps);
    expect(res.state).toBe('failed');
    expect(res.message).toMatch(/^NOT_A_FILE: /);
  });
});

describe('pruneConfigFile', () => {
  let box: Sandbox;
  afterEach(() => box.cleanup());

  it('removes the file, backs it up and forgets ownership when asked to prune', async () => {
    box = await sandbox('gse-prune-');
    const deps: ConfigFileDeps = {
      root: join(box.dir, 'root'),
      stateDir: join(box.dir, 'state'),
      clock: steppingClock(),
      ownership: await OwnershipLedger.open(join(box.dir, 'state', 'owned.json')),
    };
    await convergeConfigFile(configFile('app', '/etc/app.conf', 'bye\n'), deps);
    expect(await pruneConfigFile('/etc/app.conf', deps)).toEqual({ removed: true });
    await expect(stat(join(deps.root, 'etc/app.conf'))).rejects.toThrow(/ENOENT/);
    expect(deps.ownership.has('/etc/app.conf')).toBe(false);
    const [backup] = await listBackups(deps.stateDir, '/etc/app.conf');
    expect(await readFile(backup as string, 'utf8')).toBe('bye\n');
  });
});
