import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ConvergeDeps, convergeManifest, execFailure } from '../../../agent/engine/converge.js';
import { systemClock } from '../../../agent/engine/deps.js';
import { type ExecOutcome, runScript } from '../../../agent/engine/exec.js';
import { OwedOnChanges } from '../../../agent/engine/owed-onchange.js';
import { OwnershipLedger } from '../../../agent/engine/ownership.js';
import { planFileActions } from '../../../agent/engine/plan-files.js';
import { configFile, manifest, processWatch, type Sandbox, sandbox } from './helpers.js';

describe('planFileActions', () => {
  const a = configFile('a', '/etc/a', 'A');
  const b = configFile('b', '/etc/b', 'B', { prune: false });
  const c = configFile('c', '/etc/c', 'C');
  const cMoved = configFile('c', '/etc/c2', 'C');
  it.each([
    { name: 'no previous manifest', prev: undefined, cur: [a], owned: [], prune: [], keep: [] },
    { name: 'nothing left', prev: [a, c], cur: [a, c], owned: ['/etc/a', '/etc/c'], prune: [], keep: [] },
    {
      name: 'an owned prunable file left',
      prev: [a, c],
      cur: [a],
      owned: ['/etc/c'],
      prune: [{ key: 'ConfigFile/c', path: '/etc/c', keyLeft: true }],
      keep: [],
    },
    {
      name: 'a file left that the agent did not create',
      prev: [a, c],
      cur: [a],
      owned: [],
      prune: [],
      keep: [{ key: 'ConfigFile/c', path: '/etc/c', reason: 'not created by this agent' }],
    },
    {
      name: 'a file left whose prune is off',
      prev: [a, b],
      cur: [a],
      owned: ['/etc/b'],
      prune: [],
      keep: [{ key: 'ConfigFile/b', path: '/etc/b', reason: 'prune disabled' }],
    },
    {
      name: 'an item moved to another path',
      prev: [c],
      cur: [cMoved],
      owned: ['/etc/c'],
      prune: [{ key: 'ConfigFile/c', path: '/etc/c', keyLeft: false }],
      keep: [],
    },
  ])('plans prune=$prune.length keep=$keep.length when $name', ({ prev, cur, owned, prune, keep }) => {
    const plan = planFileActions(manifest(cur), prev ? manifest(prev) : undefined, new Set(owned));
    expect(plan.apply).toEqual(cur);
    expect(plan.prune).toEqual(prune);
    expect(plan.keep).toEqual(keep);
  });
});

describe('execFailure', () => {
  const base: ExecOutcome = {
    exitCode: 0,
    signal: null,
    stdoutTail: '',
    stderrTail: '',
    startedAt: '',
    durationMs: 1,
    timedOut: false,
    killed: false,
  };
  it.each([
    { name: 'exit 0', outcome: base, want: undefined },
    {
      name: 'exit 2 with stderr',
      outcome: { ...base, exitCode: 2, stderrTail: 'bad\n' },
      want: 'exit code 2: bad',
    },
    {
      name: 'a timeout',
      outcome: { ...base, exitCode: null, signal: 'SIGTERM', timedOut: true },
      want: 'timed out',
    },
    { name: 'a signal', outcome: { ...base, exitCode: null, signal: 'SIGSEGV' }, want: 'killed by SIGSEGV' },
  ])('says $want when the outcome is $name', ({ outcome, want }) => {
    expect(execFailure(outcome)).toBe(want);
  });
});

describe('convergeManifest', () => {
  let box: Sandbox;
  let deps: ConvergeDeps;
  let counter: string;
  beforeEach(async () => {
    box = await sandbox('gse-converge-');
    counter = join(box.dir, 'onchange.count');
    const stateDir = join(box.dir, 'state');
    const clock = systemClock;
    deps = {
      root: join(box.dir, 'root'),
      stateDir,
      clock,
      ownership: await OwnershipLedger.open(join(stateDir, 'owned.json')),
      owed: await OwedOnChanges.open(join(stateDir, 'onchange-owed.json')),
      run: (spec) => runScript(spec, { clock, baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }),
    };
  });
  afterEach(() => box.cleanup());

  const reload = (name: string, content: string, extra = {}) =>
    configFile(name, `/etc/${name}.conf`, content, {
      onChange: { run: `echo "$GSE_FILE" >> ${counter}`, timeoutMs: 10_000 },
      ...extra,
    });
  const runs = async () => (await readFile(counter, 'utf8').catch(() => '')).split('\n').filter(Boolean);

  it('runs onChange exactly once per changed file and not when unchanged', async () => {
    const m1 = manifest([reload('web', 'v1'), reload('db', 'v1')]);
    const first = await convergeManifest(m1, undefined, deps);
    expect(first.items.map((i) => [i.name, i.state])).toEqual([
      ['web', 'changed'],
      ['db', 'changed'],
    ]);
    expect(first.execs.map((e) => [e.reason, e.exitCode])).toEqual([
      ['onChange:ConfigFile/web', 0],
      ['onChange:ConfigFile/db', 0],
    ]);
    expect(await runs()).toEqual([join(deps.root, 'etc/web.conf'), join(deps.root, 'etc/db.conf')]);

    const second = await convergeManifest(m1, m1, deps);
    expect(second.items.map((i) => i.state)).toEqual(['ok', 'ok']);
    expect(second.execs).toEqual([]);

    const m2 = manifest([reload('web', 'v2'), reload('db', 'v1')]);
    const third = await convergeManifest(m2, m1, deps);
    expect(third.execs.map((e) => e.reason)).toEqual(['onChange:ConfigFile/web']);
    expect(await runs()).toHaveLength(3);
  });

  it('runs a failed onChange again on the next converge, until it succeeds, even though the file matches', async () => {
    const flag = join(box.dir, 'healthy');
    const picky = (content: string) =>
      configFile('web', '/etc/web.conf', content, {
        onChange: { run: `echo run >> ${counter}; test -e ${flag}`, timeoutMs: 10_000 },
      });
    const m1 = manifest([picky('v1')]);
    const first = await convergeManifest(m1, undefined, deps);
    expect(first.items.map((i) => [i.state, i.message])).toEqual([
      ['failed', 'onChange:ConfigFile/web failed: exit code 1'],
    ]);

    const again = await convergeManifest(m1, m1, deps);
    expect(again.items.map((i) => i.state)).toEqual(['failed']);
    expect(await runs()).toHaveLength(2);
    // The ledger is on disk: a restarted agent still owes it.
    const reopened = await OwedOnChanges.open(deps.owed.file);
    expect([...reopened.keys()]).toEqual(['ConfigFile/web']);

    await writeFile(flag, '');
    const healed = await convergeManifest(m1, m1, { ...deps, owed: reopened });
    expect(healed.items.map((i) => i.state)).toEqual(['ok']);
    expect(healed.execs.map((e) => e.exitCode)).toEqual([0]);
    const after = await convergeManifest(m1, m1, { ...deps, owed: reopened });
    expect(after.execs).toEqual([]);
    expect(await runs()).toHaveLength(3);
  });

  it('forgets an owed onChange when its item leaves the manifest or drops its onChange', async () => {
    const failing = configFile('web', '/etc/web.conf', 'v1', {
      onChange: { run: 'exit 3', timeoutMs: 10_000 },
    });
    const m1 = manifest([failing]);
    await convergeManifest(m1, undefined, deps);
    expect([...deps.owed.keys()]).toEqual(['ConfigFile/web']);
    const m2 = manifest([configFile('web', '/etc/web.conf', 'v1')]);
    const plain = await convergeManifest(m2, m1, deps);
    expect(plain.execs).toEqual([]);
    expect([...deps.owed.keys()]).toEqual([]);
  });

  it('runs onChange when only the mode changed', async () => {
    const m1 = manifest([reload('web', 'v1')]);
    await convergeManifest(m1, undefined, deps);
    const m2 = manifest([reload('web', 'v1', { mode: 0o600 })]);
    const res = await convergeManifest(m2, m1, deps);
    expect(res.execs).toHaveLength(1);
    expect(await runs()).toHaveLength(2);
  });

  it('marks the item failed with the reason when its onChange fails', async () => {
    const item = configFile('web', '/etc/web.conf', 'v1', {
      onChange: { run: 'echo "config test failed" >&2; exit 1', timeoutMs: 10_000 },
    });
    const res = await convergeManifest(manifest([item]), undefined, deps);
    expect(res.items[0]).toMatchObject({
      state: 'failed',
      message: 'onChange:ConfigFile/web failed: exit code 1: config test failed',
    });
    expect(res.execs[0]).toMatchObject({ exitCode: 1, reason: 'onChange:ConfigFile/web' });
  });

  it('prunes only files that left, had prune on and that the agent created', async () => {
    await mkdir(join(deps.root, 'etc'), { recursive: true });
    await writeFile(join(deps.root, 'etc/preexisting.conf'), 'mine');
    const created = configFile('created', '/etc/created.conf', 'c');
    const preexisting = configFile('preexisting', '/etc/preexisting.conf', 'p');
    const keepMe = configFile('keep', '/etc/keep.conf', 'k', { prune: false });
    const m1 = manifest([created, keepMe, preexisting]);
    await convergeManifest(m1, undefined, deps);
    const res = await convergeManifest(manifest([]), m1, deps);
    expect(res.pruned).toEqual(['ConfigFile/created']);
    expect(res.prunedPaths).toEqual(['/etc/created.conf']);
    await expect(stat(join(deps.root, 'etc/created.conf'))).rejects.toThrow(/ENOENT/);
    expect(await readFile(join(deps.root, 'etc/preexisting.conf'), 'utf8')).toBe('p');
    expect(await readFile(join(deps.root, 'etc/keep.conf'), 'utf8')).toBe('k');
  });

  it('includes ProcessWatch probe results when a probe is given', async () => {
    const up = processWatch('up', { name: 'x' }, { ensure: 'running' });
    const down = processWatch('down', { name: 'y' }, { ensure: 'running' });
    const observed = processWatch('observed', { name: 'z' });
    const probe = async () =>
      new Map([
        ['ProcessWatch/up', { running: true, pids: [42] }],
        ['ProcessWatch/down', { running: false, pids: [] }],
        ['ProcessWatch/observed', { running: false, pids: [] }],
      ]);
    const res = await convergeManifest(manifest([up, down, observed]), undefined, { ...deps, probe });
    expect(res.items).toEqual([
      {
        kind: 'ProcessWatch',
        name: 'up',
        hash: up.hash,
        state: 'ok',
        process: { running: true, pids: [42] },
      },
      {
        kind: 'ProcessWatch',
        name: 'down',
        hash: down.hash,
        state: 'failed',
        process: { running: false, pids: [] },
        message: 'not running',
      },
      {
        kind: 'ProcessWatch',
        name: 'observed',
        hash: observed.hash,
        state: 'ok',
        process: { running: false, pids: [] },
        message: 'not running',
      },
    ]);
  });
});
