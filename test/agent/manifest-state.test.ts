import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConvergeDeps } from '../../agent/engine/converge.js';
import { ManifestFiles, PENDING_MANIFEST_FILE } from '../../agent/manifest-files.js';
import { ManifestState, sameManifest } from '../../agent/manifest-state.js';
import type { HostManifest } from '../../src/protocol/manifest.js';
import type { ManifestMessage, ReportMessage, SpooledMessage } from '../../src/protocol/messages.js';
import { configFile, convergeDepsIn, manifest, type Sandbox, sandbox, sha256 } from './engine/helpers.js';

describe('sameManifest', () => {
  const base = manifest([configFile('a', '/etc/a', 'A')]);
  it.each([
    { name: 'the same', other: { ...base }, same: true },
    { name: 'other items', other: manifest([configFile('a', '/etc/a', 'B')]), same: false },
    { name: 'another revision', other: { ...base, revision: `${base.revision}x` }, same: false },
    { name: 'other labels', other: { ...base, labels: { ...base.labels, role: 'db' } }, same: false },
    { name: 'another host', other: { ...base, hostId: 'other-host' }, same: false },
  ])('$name: $same', ({ other, same }) => {
    expect(sameManifest(base, other as HostManifest)).toBe(same);
  });
});

describe('ManifestState', () => {
  let box: Sandbox;
  let stateDir: string;
  let deps: ConvergeDeps;
  const sent: SpooledMessage[] = [];

  beforeEach(async () => {
    box = await sandbox('gse-manifest-state-');
    stateDir = join(box.dir, 'state');
    sent.length = 0;
    deps = await convergeDepsIn(box.dir);
  });
  afterEach(() => box.cleanup());

  function state(files: ManifestFiles, held?: HostManifest): ManifestState {
    return new ManifestState(
      {
        files,
        versionReports: async () => [],
        convergeDeps: () => deps,
        guardFiles: () => undefined,
        watch: () => undefined,
        send: async (msg) => {
          sent.push(msg);
        },
      },
      held,
    );
  }

  it('re-verifies a manifest it holds without rewriting manifest.json, and still repairs the host', async () => {
    const files = new ManifestFiles(stateDir);
    const s = state(files);
    const m = manifest([configFile('a', '/etc/a', 'A')]);
    await s.apply(m);
    const applied = join(stateDir, 'manifest.json');
    const before = statSync(applied);
    // The file was lost meanwhile: the re-sent, identical manifest puts it back.
    rmSync(join(deps.root, 'etc/a'));
    await s.apply({ ...m });
    const after = statSync(applied);
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(() => statSync(join(stateDir, PENDING_MANIFEST_FILE))).toThrow(/ENOENT/);
    expect(readFileSync(join(deps.root, 'etc/a'), 'utf8')).toBe('A');
    const last = sent.at(-1) as ReportMessage;
    expect(last.manifestHash).toBe(m.hash);
    expect(last.items.map((i) => [i.name, i.state])).toEqual([['a', 'changed']]);
  });

  it('clears the pending mark of the held manifest left by a run that died re-verifying it', async () => {
    const files = new ManifestFiles(stateDir);
    const m = manifest([configFile('a', '/etc/a', 'A')]);
    await state(files).apply(m);
    await files.writePending(m);
    // A restarted agent holds m and finds m pending: it finishes that apply.
    const s = state(files, await files.readCurrent());
    await s.apply((await files.readPending()) as HostManifest);
    expect(await files.readPending()).toBeUndefined();
    expect((await files.readCurrent())?.hash).toBe(m.hash);
  });

  it('writes a manifest that differs only in its revision', async () => {
    const files = new ManifestFiles(stateDir);
    const s = state(files);
    const m = manifest([configFile('a', '/etc/a', 'A')]);
    await s.apply(m);
    await s.apply({ ...m, revision: 'next-revision' });
    expect((await files.readCurrent())?.revision).toBe('next-revision');
  });

  const lastReport = () => sent.filter((m): m is ReportMessage => m.type === 'report').at(-1);
  const states = (r: ReportMessage | undefined) => r?.items.map((i) => [i.name, i.state, i.message]);

  it('rebuilds every item report of the held manifest after a restart, reading only', async () => {
    const files = new ManifestFiles(stateDir);
    const m = manifest([configFile('a', '/etc/a', 'A'), configFile('b', '/etc/b', 'B')]);
    await state(files).apply(m);
    // Edited while the agent was down.
    writeFileSync(join(deps.root, 'etc/b'), 'edited');
    sent.length = 0;

    const restarted = state(files, await files.readCurrent());
    // Before the reports are rebuilt (or when that failed), a report would name no item: none is sent.
    await restarted.reportHeld();
    expect(sent).toEqual([]);
    await restarted.restore();
    expect(sent).toEqual([]);
    await restarted.reportHeld();
    const report = lastReport();
    expect(report?.manifestHash).toBe(m.hash);
    expect(states(report)).toEqual([
      ['a', 'ok', undefined],
      ['b', 'drifted', 'differs on disk: would change content'],
    ]);
    expect(report?.items.map((i) => i.observedHash)).toEqual([sha256('A'), sha256('edited')]);
    // Read only: the drift is the drift watcher's to report and heal.
    expect(readFileSync(join(deps.root, 'etc/b'), 'utf8')).toBe('edited');
  });

  it('reports a drifted file put back by hand as ok again, and leaves any other state as it is', async () => {
    const files = new ManifestFiles(stateDir);
    const m = manifest([
      configFile('a', '/etc/a', 'A', { selfHeal: false }),
      configFile('b', '/etc/b', 'B', { selfHeal: false }),
    ]);
    const s = state(files);
    await s.apply(m);
    const drift = (name: string, content: string) =>
      s.onDrift({
        key: `ConfigFile/${name}`,
        path: `/etc/${name}`,
        absPath: join(deps.root, 'etc', name),
        expectedHash: sha256(name.toUpperCase()),
        observedHash: sha256(content),
        detectedAt: new Date().toISOString(),
        detail: 'content changed',
      });
    await drift('a', 'edited');
    expect(states(lastReport())).toEqual([
      ['a', 'drifted', 'drifted: content changed'],
      ['b', 'changed', 'created'],
    ]);

    sent.length = 0;
    await s.onResolved('ConfigFile/b'); // never drifted: its last report stands, nothing is sent
    expect(sent).toEqual([]);
    await s.onResolved('ConfigFile/a');
    expect(states(lastReport())).toEqual([
      ['a', 'ok', 'in sync again: the file on disk matches Git'],
      ['b', 'changed', 'created'],
    ]);
    expect(lastReport()?.items[0]?.observedHash).toBe(sha256('A'));
    await s.onResolved('ConfigFile/a'); // already ok: nothing more
    expect(sent).toHaveLength(1);
  });

  it('leaves a file selfHeal leaves alone on a re-verify (an empty delta), and heals it on a full send', async () => {
    const files = new ManifestFiles(stateDir);
    const m = manifest([configFile('a', '/etc/a', 'A', { selfHeal: false }), configFile('b', '/etc/b', 'B')]);
    const s = state(files);
    await s.apply(m);
    writeFileSync(join(deps.root, 'etc/a'), 'hand edit');
    writeFileSync(join(deps.root, 'etc/b'), 'hand edit');
    const reverify: ManifestMessage = {
      v: 1,
      type: 'manifest',
      id: 'm-2',
      mode: 'delta',
      baseHash: m.hash,
      hash: m.hash,
      revision: m.revision,
      labels: m.labels,
      upsert: [],
      remove: [],
    };
    await s.onManifest(reverify);
    expect(readFileSync(join(deps.root, 'etc/a'), 'utf8')).toBe('hand edit');
    expect(readFileSync(join(deps.root, 'etc/b'), 'utf8')).toBe('B');
    expect(states(lastReport())).toEqual([
      ['b', 'changed', 'content updated'],
      ['a', 'drifted', 'differs on disk, left as it is (selfHeal off): would change content'],
    ]);

    // A sync sends the whole manifest: everything is applied.
    await s.onManifest({ v: 1, type: 'manifest', id: 'm-3', mode: 'full', manifest: m });
    expect(readFileSync(join(deps.root, 'etc/a'), 'utf8')).toBe('A');
    expect(states(lastReport())).toEqual([
      ['a', 'changed', 'content updated'],
      ['b', 'ok', undefined],
    ]);
  });
});
