import { describe, expect, it } from 'vitest';
import { type DetectDeps, HostCheckState, underRoot } from '../../../agent/engine/detect-checks.js';
import { parseMounts } from '../../../agent/engine/detect-mounts.js';
import type { ExecOutcome, ExecSpec } from '../../../agent/engine/exec.js';
import type { ManifestHostCheck } from '../../../src/protocol/manifest.js';
import { steppingClock } from './helpers.js';

function check(name: string, probe: Partial<ManifestHostCheck>): ManifestHostCheck {
  return { kind: 'HostCheck', name, hash: `h-${name}`, intervalMs: 1000, ...probe };
}

function outcome(exitCode: number | null, extra: Partial<ExecOutcome> = {}): ExecOutcome {
  return {
    exitCode,
    signal: null,
    stdoutTail: '',
    stderrTail: '',
    startedAt: '2024-01-01T00:00:00.000Z',
    durationMs: 1,
    timedOut: false,
    killed: false,
    ...extra,
  };
}

/** Fakes of the host: each probe reads the next value of its queue (the last one repeats). */
function fakeHost(init: {
  root?: string;
  used?: number[];
  mounts?: string[];
  listings?: string[][];
  exits?: ExecOutcome[];
}) {
  const next = <T>(q: T[] | undefined): T => {
    if (!q || q.length === 0) throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    return (q.length > 1 ? q.shift() : q[0]) as T;
  };
  const calls = { statfs: [] as string[], mounts: 0, listDir: [] as string[], runs: [] as ExecSpec[] };
  const deps: DetectDeps = {
    clock: steppingClock(),
    root: init.root ?? '',
    statfs: async (path) => {
      calls.statfs.push(path);
      const used = next(init.used);
      return { blocks: 1000, bfree: 1000 - used * 10, bavail: 1000 - used * 10 };
    },
    mounts: async () => {
      calls.mounts++;
      return parseMounts(next(init.mounts));
    },
    listDir: async (path) => {
      calls.listDir.push(path);
      return next(init.listings);
    },
    // Files named *.new were written after the check started; the others long before.
    fileInfo: async (path) =>
      path.endsWith('/dir.core')
        ? undefined
        : { size: 42, mtimeMs: path.endsWith('.new') ? Date.UTC(2030, 0) : 0 },
    run: async (spec) => {
      calls.runs.push(spec);
      return next(init.exits);
    },
  };
  return { deps, calls };
}

async function probeAll(state: HostCheckState, n: number) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await state.probe());
  return out;
}

const ROOT_MOUNTS = '/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /var xfs rw 0 0\n';

describe('HostCheckState: disk', () => {
  it('raises disk.full once when usage crosses the threshold, again only after it went back under', async () => {
    const { deps, calls } = fakeHost({ used: [50, 95, 97, 96, 40, 99], mounts: [ROOT_MOUNTS] });
    const state = new HostCheckState(check('var', { disk: { mount: '/var', usedPercentOver: 90 } }), deps);
    const probes = await probeAll(state, 6);
    expect(probes.map((p) => p.events.length)).toEqual([0, 1, 0, 0, 0, 1]);
    expect(probes[1]?.events[0]).toMatchObject({
      type: 'disk.full',
      resource: 'HostCheck/var',
      fields: {
        mount: '/var',
        device: '/dev/sdb1',
        fstype: 'xfs',
        check: 'var',
        usedPercent: 95,
        thresholdPercent: 90,
      },
    });
    expect(probes.map((p) => p.status.message)).toEqual([
      'armed',
      'raised disk.full: /var 95% used, over 90%',
      'raised disk.full: /var 95% used, over 90%',
      'raised disk.full: /var 95% used, over 90%',
      'armed',
      'raised disk.full: /var 99% used, over 90%',
    ]);
    // One statfs per probe; the mount table only when an event is raised.
    expect(calls.statfs).toHaveLength(6);
    expect(calls.mounts).toBe(2);
  });

  it('statfs-es the path under --root and names it as declared', async () => {
    const { deps, calls } = fakeHost({ root: '/sandbox', used: [99], mounts: [ROOT_MOUNTS] });
    const state = new HostCheckState(check('d', { disk: { mount: '/var/lib', usedPercentOver: 1 } }), deps);
    const [p] = await probeAll(state, 1);
    expect(calls.statfs).toEqual(['/sandbox/var/lib']);
    expect(p?.events[0]?.fields).toMatchObject({ mount: '/var/lib', device: '/dev/sda1' });
  });

  it('reports a path it cannot statfs as failed, without an event or a change of state', async () => {
    const { deps } = fakeHost({ used: [] });
    const state = new HostCheckState(check('gone', { disk: { mount: '/nope', usedPercentOver: 90 } }), deps);
    const [p] = await probeAll(state, 1);
    expect(p?.events).toEqual([]);
    expect(p?.status.state).toBe('failed');
    expect(p?.status.message).toMatch(/^statfs \/nope: .*ENOENT/);
  });
});

describe('HostCheckState: readonly', () => {
  const rw = '/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /data xfs rw 0 0\n';
  const ro = '/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /data xfs ro 0 0\n';

  it('raises disk.readonly once when the mount turns read-only, re-armed when it is writable again', async () => {
    const { deps } = fakeHost({ mounts: [rw, ro, ro, rw, ro] });
    const state = new HostCheckState(check('data', { readonly: { mount: '/data/app' } }), deps);
    const probes = await probeAll(state, 5);
    expect(probes.map((p) => p.events.map((e) => e.type))).toEqual([
      [],
      ['disk.readonly'],
      [],
      [],
      ['disk.readonly'],
    ]);
    expect(probes[1]?.events[0]?.fields).toEqual({
      mount: '/data/app',
      device: '/dev/sdb1',
      fstype: 'xfs',
      check: 'data',
    });
  });

  it('looks up the mount holding the path under --root', async () => {
    const { deps } = fakeHost({
      root: '/tmp/sb',
      mounts: ['/dev/a / ext4 rw 0 0\n/dev/t /tmp tmpfs ro 0 0\n'],
    });
    const state = new HostCheckState(check('r', { readonly: { mount: '/data' } }), deps);
    const [p] = await probeAll(state, 1);
    expect(p?.events[0]?.fields).toMatchObject({ mount: '/data', device: '/dev/t', fstype: 'tmpfs' });
    expect(underRoot('/tmp/sb', '/data')).toBe('/tmp/sb/data');
    expect(underRoot('', '/data')).toBe('/data');
  });
});

describe('HostCheckState: corefiles', () => {
  it('raises one corefile per new matching regular file, never for files there at the start', async () => {
    const { deps, calls } = fakeHost({
      root: '/r',
      listings: [
        ['core.old'],
        ['core.old', 'core.1', 'notes.txt'],
        ['core.old', 'core.1'],
        ['core.old', 'core.1', 'core.2', 'dir.core'],
      ],
    });
    const state = new HostCheckState(
      check('cores', { corefiles: { dir: '/var/crash', pattern: '*core*' } }),
      deps,
    );
    const probes = await probeAll(state, 4);
    expect(probes.map((p) => p.events.map((e) => e.fields.path))).toEqual([
      [],
      ['/var/crash/core.1'],
      [],
      ['/var/crash/core.2'],
    ]);
    expect(probes[1]?.events[0]).toMatchObject({
      type: 'corefile',
      resource: 'HostCheck/cores',
      fields: { path: '/var/crash/core.1', dir: '/var/crash', size: 42, check: 'cores' },
    });
    expect(calls.listDir[0]).toBe('/r/var/crash');
  });
});

describe('HostCheckState: corefiles at the first probe', () => {
  it('reports a file of the first listing only when it was written since the check started', async () => {
    const { deps } = fakeHost({
      listings: [
        ['core.old', 'core.a.new', 'x.new'],
        ['core.old', 'core.a.new', 'x.new'],
      ],
    });
    const state = new HostCheckState(check('c', { corefiles: { dir: '/cores', pattern: 'core*' } }), deps);
    const probes = await probeAll(state, 2);
    expect(probes.map((p) => p.events.map((e) => e.fields.path))).toEqual([['/cores/core.a.new'], []]);
  });
});

describe('HostCheckState: command', () => {
  it('raises check.failed on the Nth failure in a row, once, re-armed by a success', async () => {
    const exits = [
      outcome(0),
      outcome(1),
      outcome(1),
      outcome(2, { stderrTail: 'no file\n' }),
      outcome(1),
      outcome(0),
      outcome(1),
      outcome(null, { timedOut: true, killed: true }),
    ];
    const { deps, calls } = fakeHost({ exits: [...exits] });
    const cmd = { run: 'test -f /x', failuresInARow: 3, timeoutMs: 5000, env: { A: 'b' }, runAs: 'nobody' };
    const state = new HostCheckState(check('x', { command: cmd }), deps);
    const probes = await probeAll(state, 8);
    expect(probes.map((p) => p.events.length)).toEqual([0, 0, 0, 1, 0, 0, 0, 0]);
    expect(probes[3]?.events[0]).toMatchObject({
      type: 'check.failed',
      resource: 'HostCheck/x',
      fields: { check: 'x', exitCode: 2, failures: 3, output: 'no file' },
    });
    expect(probes.map((p) => p.status.message)).toEqual([
      'armed',
      'armed',
      'armed',
      'raised check.failed: 3 failures in a row',
      'raised check.failed: 3 failures in a row',
      'armed',
      'armed',
      'armed',
    ]);
    expect(calls.runs[0]).toMatchObject({
      script: 'test -f /x',
      timeoutMs: 5000,
      runAs: 'nobody',
      env: { A: 'b', GSE_CHECK: 'x', GSE_ROOT: '' },
    });
  });

  it('does not count a run cut short by the agent', async () => {
    const abort = new AbortController();
    abort.abort();
    const { deps } = fakeHost({ exits: [outcome(null, { killed: true })] });
    const state = new HostCheckState(
      check('x', { command: { run: 'sleep 9', failuresInARow: 1, timeoutMs: 1000 } }),
      deps,
    );
    const p = await state.probe(abort.signal);
    expect(p.events).toEqual([]);
    expect(p.status).toEqual({ state: 'ok', message: 'armed' });
  });
});
