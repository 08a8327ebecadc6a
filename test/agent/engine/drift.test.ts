import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConfigFileDeps } from '../../../agent/engine/config-file.js';
import { convergeConfigFile } from '../../../agent/engine/converge-files.js';
import { systemClock } from '../../../agent/engine/deps.js';
import { type DriftReport, DriftWatcher, driftDetail } from '../../../agent/engine/drift.js';
import { OwnershipLedger } from '../../../agent/engine/ownership.js';
import { type FileWatcher, SharedFileWatcher } from '../../../agent/engine/shared-watcher.js';
import { configFile, type Sandbox, sandbox, sha256, waitFor } from './helpers.js';

/** A file watcher that never reports anything: only the periodic re-hash can see changes. */
const deafWatcher: FileWatcher = {
  register: () => () => undefined,
  refresh: () => undefined,
  isWatching: () => false,
};

interface Agent {
  files: FileWatcher;
  watcher: DriftWatcher;
  drifts: DriftReport[];
  /** Keys `onResolved` was called with, in order. */
  resolved: string[];
  fileDeps: ConfigFileDeps;
}

async function makeAgent(dir: string, files: FileWatcher, rehashIntervalMs = 0): Promise<Agent> {
  const drifts: DriftReport[] = [];
  const resolved: string[] = [];
  const root = join(dir, 'root');
  const watcher = new DriftWatcher({
    root,
    clock: systemClock,
    files,
    onDrift: (r) => drifts.push(r),
    onResolved: (key) => resolved.push(key),
    rehashIntervalMs,
  });
  const fileDeps: ConfigFileDeps = {
    root,
    stateDir: join(dir, 'state'),
    clock: systemClock,
    ownership: await OwnershipLedger.open(join(dir, 'state', 'owned.json')),
    guard: watcher,
  };
  return { files, watcher, drifts, resolved, fileDeps };
}

describe('driftDetail', () => {
  const item = { contentHash: 'a'.repeat(64), mode: 0o644, owner: 'app:app' };
  const ids = { uid: 1000, gid: 1000 };
  it.each([
    { name: 'a deleted file', obs: undefined, want: 'file deleted' },
    {
      name: 'a mode change',
      obs: { hash: item.contentHash, mode: 0o600, ...ids },
      want: 'mode 0600, manifest 0644',
    },
    {
      name: 'a content change',
      obs: { hash: 'b'.repeat(64), mode: 0o644, ...ids },
      want: 'content changed (sha256 bbbbbbbbbbbb, manifest aaaaaaaaaaaa)',
    },
    {
      name: 'an owner change',
      obs: { hash: item.contentHash, mode: 0o644, uid: 0, gid: 5 },
      want: 'owner 0:5, manifest app:app (1000:1000)',
    },
    {
      name: 'a symlink in place of the file',
      obs: { hash: '', mode: 0, uid: -1, gid: -1, link: '/r/etc/app.conf' },
      want: 'replaced by a symlink (/r/etc/app.conf)',
    },
  ])('describes $name', ({ obs, want }) => {
    expect(driftDetail(item, obs, { uid: 1000, gid: 1000 })).toBe(want);
  });
});

describe('DriftWatcher', () => {
  let box: Sandbox;
  let shared: SharedFileWatcher;
  const agents: Agent[] = [];
  beforeEach(async () => {
    box = await sandbox('gse-drift-');
    shared = new SharedFileWatcher();
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.watcher.close();
    await shared.close();
    await box.cleanup();
  });

  /** Sets the items, converges them, and (with the real watcher) waits until each file's directory is watched. */
  const converged = async (agent: Agent, items: ReturnType<typeof configFile>[]) => {
    agent.watcher.setItems(items);
    for (const item of items) {
      const res = await convergeConfigFile(item, agent.fileDeps);
      expect(res.state).not.toBe('failed');
      if (agent.files === shared) await waitFor(() => shared.isWatching(res.path), `a watch of ${res.path}`);
    }
  };

  it('reports a hand edit promptly through the file watcher', async () => {
    const agent = await makeAgent(box.dir, shared);
    agents.push(agent);
    const item = configFile('app', '/etc/app.conf', 'good\n');
    await converged(agent, [item]);
    await writeFile(join(box.dir, 'root/etc/app.conf'), 'hacked\n');
    // writeFile truncates, then writes: on a loaded machine the watcher may see the empty file between the
    // two, past the settle pause, and report that first; the edit's content must be reported all the same.
    const edited = sha256('hacked\n');
    await waitFor(() => agent.drifts.some((d) => d.observedHash === edited), 'a drift report of the edit');
    const report = agent.drifts.find((d) => d.observedHash === edited);
    expect(report).toMatchObject({
      key: 'ConfigFile/app',
      path: '/etc/app.conf',
      absPath: join(box.dir, 'root/etc/app.conf'),
      expectedHash: sha256('good\n'),
      observedHash: edited,
    });
    expect(report?.detail).toMatch(/^content changed/);
  });

  it('reports a chmod and a deletion by hand when they happen', async () => {
    const agent = await makeAgent(box.dir, shared);
    agents.push(agent);
    const item = configFile('app', '/etc/app.conf', 'good\n');
    await converged(agent, [item]);
    const abs = join(box.dir, 'root/etc/app.conf');
    await chmod(abs, 0o600);
    await waitFor(() => agent.drifts.length === 1, 'the chmod drift');
    expect(agent.drifts[0]?.detail).toBe('mode 0600, manifest 0644');
    await rm(abs);
    await waitFor(() => agent.drifts.length === 2, 'the deletion drift');
    expect(agent.drifts[1]).toMatchObject({ observedHash: '', detail: 'file deleted' });
  });

  it('does not report the agent own writes when the manifest changes the file', async () => {
    const agent = await makeAgent(box.dir, shared);
    agents.push(agent);
    const v1 = configFile('app', '/etc/app.conf', 'v1\n');
    const sentinel = configFile('sentinel', '/etc/sentinel.conf', 's\n');
    await converged(agent, [v1, sentinel]);
    const v2 = configFile('app', '/etc/app.conf', 'v2\n', { mode: 0o600 });
    await converged(agent, [v2, sentinel]);
    await agent.watcher.checkAll();
    // A hand edit after our own write: once it is reported, any report of our write would have come first.
    await writeFile(join(box.dir, 'root/etc/sentinel.conf'), 'edited\n');
    await waitFor(() => agent.drifts.length > 0, 'the sentinel drift');
    await agent.watcher.checkAll();
    expect(agent.drifts.map((d) => d.key)).toEqual(['ConfigFile/sentinel']);
  });

  it('reports an edit made while the agent was writing the file, once the write ends', async () => {
    // The shared watcher, with a count of the events it delivers: the edit's event must come during the guard.
    let heard = 0;
    const counting: FileWatcher = {
      register: (abs, listener) =>
        shared.register(abs, (event, path) => {
          heard += 1;
          listener(event, path);
        }),
      refresh: (abs) => shared.refresh(abs),
      isWatching: (abs) => shared.isWatching(abs),
    };
    const agent = await makeAgent(box.dir, counting);
    agents.push(agent);
    const item = configFile('app', '/etc/app.conf', 'good\n');
    await converged(agent, [item]);
    await agent.watcher.checkAll();
    const abs = join(box.dir, 'root/etc/app.conf');
    agent.watcher.begin(abs);
    const before = heard;
    await writeFile(abs, 'edited while guarded\n');
    await waitFor(() => heard > before, 'the edit event, while the write guard is held');
    await agent.watcher.checkAll();
    expect(agent.drifts).toEqual([]); // checks wait for the guard to end
    agent.watcher.end(abs, true);
    const edited = sha256('edited while guarded\n');
    await waitFor(() => agent.drifts.some((d) => d.observedHash === edited), 'the drift, after end');
  });

  it('checks a file at the end of a write when its directory was not watched as the write began', async () => {
    const agent = await makeAgent(box.dir, deafWatcher);
    agents.push(agent);
    await converged(agent, [configFile('app', '/etc/app.conf', 'good\n')]);
    const abs = join(box.dir, 'root/etc/app.conf');
    agent.watcher.begin(abs);
    // Changed while guarded, with no watch to report it (as before a new directory's watch is up).
    await writeFile(abs, 'unseen\n');
    agent.watcher.end(abs, true);
    await waitFor(() => agent.drifts.some((d) => d.observedHash === sha256('unseen\n')), 'the drift');
  });

  it('catches a change by the periodic re-hash when the file watcher is not told', async () => {
    const agent = await makeAgent(box.dir, deafWatcher, 50);
    agents.push(agent);
    agent.watcher.start();
    await converged(agent, [configFile('app', '/etc/app.conf', 'good\n')]);
    await writeFile(join(box.dir, 'root/etc/app.conf'), 'changed behind our back\n');
    const want = sha256('changed behind our back\n');
    await waitFor(() => agent.drifts.some((d) => d.observedHash === want), 'a drift found by re-hash');
    const reported = agent.drifts.length;
    await agent.watcher.checkAll();
    expect(agent.drifts).toHaveLength(reported);
  });

  it('tells once when a reported drift is gone again, and never for a file that did not drift', async () => {
    const agent = await makeAgent(box.dir, deafWatcher);
    agents.push(agent);
    await converged(agent, [
      configFile('app', '/etc/app.conf', 'good\n'),
      configFile('other', '/etc/other.conf', 'other\n'),
    ]);
    const abs = join(box.dir, 'root/etc/app.conf');
    await agent.watcher.checkAll();
    expect(agent.resolved).toEqual([]);

    await writeFile(abs, 'edited\n');
    await agent.watcher.checkAll();
    expect(agent.drifts.map((d) => d.key)).toEqual(['ConfigFile/app']);
    expect(agent.resolved).toEqual([]);

    // Put back by hand: told once; later checks of the file in sync tell nothing more.
    await writeFile(abs, 'good\n');
    await agent.watcher.checkAll();
    await agent.watcher.checkAll();
    expect(agent.resolved).toEqual(['ConfigFile/app']);
    expect(agent.drifts).toHaveLength(1);
  });

  it('serves several agents from one shared watcher when each registers its own files', async () => {
    const one = await makeAgent(join(box.dir, 'sim-1'), shared);
    const two = await makeAgent(join(box.dir, 'sim-2'), shared);
    agents.push(one, two);
    const item = configFile('app', '/etc/app.conf', 'good\n');
    await converged(one, [item]);
    await converged(two, [item]);
    expect(shared.size).toBe(2);
    await writeFile(join(box.dir, 'sim-2/root/etc/app.conf'), 'x\n');
    await waitFor(() => two.drifts.length > 0, 'the drift of sim-2');
    await one.watcher.close();
    agents.splice(agents.indexOf(one), 1);
    expect(shared.size).toBe(1);
    await writeFile(join(box.dir, 'sim-2/root/etc/app.conf'), 'y\n');
    await waitFor(() => two.drifts.length > 1, 'a second drift of sim-2');
    expect(one.drifts).toEqual([]);
  });

  it('stops watching a file when it leaves the items', async () => {
    const agent = await makeAgent(box.dir, deafWatcher);
    agents.push(agent);
    await converged(agent, [configFile('app', '/etc/app.conf', 'good\n')]);
    agent.watcher.setItems([]);
    await writeFile(join(box.dir, 'root/etc/app.conf'), 'x\n');
    await agent.watcher.checkAll();
    expect(agent.drifts).toEqual([]);
  });
});
