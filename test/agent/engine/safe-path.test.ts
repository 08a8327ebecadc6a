import { execFileSync } from 'node:child_process';
import {
  chmod,
  chown,
  link,
  lstat,
  mkdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ConfigFileDeps, pruneConfigFile } from '../../../agent/engine/config-file.js';
import { convergeConfigFile } from '../../../agent/engine/converge-files.js';
import { type DriftReport, DriftWatcher } from '../../../agent/engine/drift.js';
import { OwnershipLedger } from '../../../agent/engine/ownership.js';
import { SharedFileWatcher } from '../../../agent/engine/shared-watcher.js';
import { configFile, type Sandbox, sandbox, steppingClock, waitFor } from './helpers.js';

const isRoot = process.getuid?.() === 0;

describe('managed paths with symlinks or in the state dir', () => {
  let box: Sandbox;
  let root: string;
  let outside: string;
  let deps: ConfigFileDeps;
  beforeEach(async () => {
    box = await sandbox('gse-safe-');
    root = join(box.dir, 'root');
    outside = join(box.dir, 'outside');
    await mkdir(join(root, 'etc'), { recursive: true });
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, 'victim'), 'precious\n', { mode: 0o600 });
    const stateDir = join(root, 'var/lib/gse-agent');
    deps = {
      root,
      stateDir,
      clock: steppingClock(),
      ownership: await OwnershipLedger.open(join(stateDir, 'owned.json')),
    };
  });
  afterEach(() => box.cleanup());

  it('refuses to write through a symlinked parent directory, naming the component', async () => {
    await symlink(outside, join(root, 'etc/app'));
    const res = await convergeConfigFile(configFile('app', '/etc/app/victim', 'owned\n'), deps);
    expect(res.state).toBe('failed');
    expect(res.message).toBe(
      `PATH_SYMLINK: managed path /etc/app/victim: ${join(root, 'etc/app')} is a symlink, and the agent follows no symlink under its root; replace the link by a real directory or file, or declare another path`,
    );
    expect(await readFile(join(outside, 'victim'), 'utf8')).toBe('precious\n');
  });

  it('refuses a symlink at the file itself instead of reading, replacing or chmod-ing through it', async () => {
    const link = join(root, 'etc/app.conf');
    await symlink(join(outside, 'victim'), link);
    const res = await convergeConfigFile(
      configFile('app', '/etc/app.conf', 'precious\n', { mode: 0o644 }),
      deps,
    );
    expect(res.state).toBe('failed');
    expect(res.message).toMatch(/^PATH_SYMLINK: managed path \/etc\/app.conf: .*etc\/app.conf is a symlink/);
    expect(res.observedHash).toBe('');
    expect(await readlink(link)).toBe(join(outside, 'victim'));
    expect((await stat(join(outside, 'victim'))).mode & 0o777).toBe(0o600);
  });

  it('refuses to prune through a symlinked parent', async () => {
    await symlink(outside, join(root, 'etc/app'));
    await deps.ownership.add('/etc/app/victim');
    await expect(pruneConfigFile('/etc/app/victim', deps)).rejects.toThrow(/etc\/app is a symlink/);
    expect(await readFile(join(outside, 'victim'), 'utf8')).toBe('precious\n');
  });

  it.each([
    { name: 'the identity file', path: '/var/lib/gse-agent/identity.json' },
    { name: 'a file in the spool', path: '/var/lib/gse-agent/spool/x.seg' },
    { name: 'the state dir itself', path: '/var/lib/gse-agent' },
  ])('refuses $name, which is in the state dir', async ({ path }) => {
    const res = await convergeConfigFile(configFile('own', path, '{"agentId":"evil"}'), deps);
    expect(res.state).toBe('failed');
    expect(res.message).toContain(
      `PATH_IN_STATE_DIR: managed path ${path} is inside the agent's state dir ${deps.stateDir}`,
    );
    await expect(lstat(join(deps.stateDir, 'identity.json'))).rejects.toThrow(/ENOENT/);
  });

  it('replaces a hard link planted at the path instead of chmod-ing the inode it shares', async () => {
    await link(join(outside, 'victim'), join(root, 'etc/app.conf'));
    const res = await convergeConfigFile(
      configFile('app', '/etc/app.conf', 'precious\n', { mode: 0o644 }),
      deps,
    );
    expect(res).toMatchObject({ state: 'changed', contentChanged: false, modeChanged: true });
    expect(res.message).toBe('hard link replaced by a file; mode 0600 -> 0644');
    expect((await stat(join(outside, 'victim'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(root, 'etc/app.conf'))).nlink).toBe(1);
  });

  it('fails at once, without hanging, when a FIFO is planted at the path', async () => {
    execFileSync('mkfifo', [join(root, 'etc/app.conf')]);
    const res = await convergeConfigFile(configFile('app', '/etc/app.conf', 'x\n'), deps);
    expect(res.state).toBe('failed');
    expect(res.message).toMatch(/NOT_A_FILE: .*etc\/app.conf exists and is not a regular file/);
  });

  it('still writes a normal path next to a refused one', async () => {
    const res = await convergeConfigFile(configFile('ok', '/etc/ok.conf', 'fine\n'), deps);
    expect(res.state).toBe('changed');
    expect(await readFile(join(root, 'etc/ok.conf'), 'utf8')).toBe('fine\n');
  });
});

describe('owner drift', () => {
  let box: Sandbox;
  let shared: SharedFileWatcher;
  beforeEach(async () => {
    box = await sandbox('gse-owner-drift-');
    shared = new SharedFileWatcher();
  });
  afterEach(async () => {
    await shared.close();
    await box.cleanup();
  });

  it.skipIf(!isRoot)('reports a chown as drift and heals it when selfHeal', async () => {
    const root = join(box.dir, 'root');
    const stateDir = join(box.dir, 'state');
    const reports: DriftReport[] = [];
    const drift = new DriftWatcher({
      root,
      clock: steppingClock(),
      files: shared,
      onDrift: (r) => reports.push(r),
      rehashIntervalMs: 0,
      runningAsRoot: true,
      stateDir,
    });
    const deps: ConfigFileDeps = {
      root,
      stateDir,
      clock: steppingClock(),
      ownership: await OwnershipLedger.open(join(stateDir, 'owned.json')),
      runningAsRoot: true,
      guard: drift,
    };
    const item = configFile('app', '/etc/app.conf', 'x\n', { owner: 'root:root' });
    drift.setItems([item]);
    const first = await convergeConfigFile(item, deps);
    expect(first).toMatchObject({ state: 'changed', observedOwner: '0:0' });
    const abs = join(root, 'etc/app.conf');
    await chown(abs, 65534, 65534);
    await drift.checkAll();
    await waitFor(() => reports.length > 0, 'owner drift reported');
    expect(reports[0]).toMatchObject({ observedOwner: '65534:65534' });
    expect(reports[0]?.detail).toBe('owner 65534:65534, manifest root:root (0:0)');
    const healed = await convergeConfigFile(item, deps);
    expect(healed).toMatchObject({ state: 'changed', ownerChanged: true, contentChanged: false });
    expect(healed.message).toBe('owner 65534:65534 -> 0:0');
    const st = await stat(abs);
    expect([st.uid, st.gid]).toEqual([0, 0]);
    await chmod(abs, 0o644);
    await drift.close();
  });

  it('reports a symlink planted in place of a managed file as drift', async () => {
    const root = join(box.dir, 'root');
    const stateDir = join(box.dir, 'state');
    const reports: DriftReport[] = [];
    const drift = new DriftWatcher({
      root,
      clock: steppingClock(),
      files: shared,
      onDrift: (r) => reports.push(r),
      rehashIntervalMs: 0,
    });
    const deps: ConfigFileDeps = {
      root,
      stateDir,
      clock: steppingClock(),
      ownership: await OwnershipLedger.open(join(stateDir, 'owned.json')),
      guard: drift,
    };
    const item = configFile('app', '/etc/app.conf', 'x\n');
    drift.setItems([item]);
    expect((await convergeConfigFile(item, deps)).state).toBe('changed');
    const abs = join(root, 'etc/app.conf');
    await rm(abs);
    await writeFile(join(box.dir, 'target'), 'x\n');
    await symlink(join(box.dir, 'target'), abs);
    await drift.checkAll();
    await waitFor(() => reports.some((r) => r.detail.startsWith('replaced by a symlink')), 'symlink drift');
    expect(reports.at(-1)?.detail).toBe(`replaced by a symlink (${abs})`);
    const heal = await convergeConfigFile(item, deps);
    expect(heal.state).toBe('failed');
    expect(heal.message).toMatch(/PATH_SYMLINK/);
    await drift.close();
  });
});
