import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConvergeDeps } from '../../agent/engine/converge.js';
import { ManifestFiles, PENDING_MANIFEST_FILE } from '../../agent/manifest-files.js';
import { ManifestState, sameManifest } from '../../agent/manifest-state.js';
import type { HostManifest } from '../../src/protocol/manifest.js';
import type { ReportMessage, SpooledMessage } from '../../src/protocol/messages.js';
import { configFile, convergeDepsIn, manifest, type Sandbox, sandbox } from './engine/helpers.js';

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

describe('ManifestState.apply', () => {
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
});
