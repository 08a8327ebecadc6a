import { describe, expect, it } from 'vitest';
import {
  diskOver,
  levelStep,
  newFilesStep,
  streakStep,
  usedPercent,
} from '../../../agent/engine/detect-logic.js';
import { mountHolding, mountReadOnly, parseMounts } from '../../../agent/engine/detect-mounts.js';

describe('levelStep', () => {
  it.each([
    { name: 'fires when on at the first probe', was: undefined, on: true, want: { on: true, fire: true } },
    {
      name: 'stays quiet when off at the first probe',
      was: undefined,
      on: false,
      want: { on: false, fire: false },
    },
    { name: 'fires when it turns on', was: false, on: true, want: { on: true, fire: true } },
    { name: 'stays quiet while it stays on', was: true, on: true, want: { on: true, fire: false } },
    { name: 're-arms when it turns off', was: true, on: false, want: { on: false, fire: false } },
    { name: 'stays quiet while off', was: false, on: false, want: { on: false, fire: false } },
  ])('$name', ({ was, on, want }) => {
    expect(levelStep(was, on)).toEqual(want);
  });

  it('raises once per transition over a sequence of probes', () => {
    const probes = [false, true, true, true, false, false, true, true];
    let was: boolean | undefined;
    const fired: number[] = [];
    probes.forEach((on, i) => {
      const step = levelStep(was, on);
      was = step.on;
      if (step.fire) fired.push(i);
    });
    expect(fired).toEqual([1, 6]);
  });
});

describe('streakStep', () => {
  it.each([
    { name: 'counts a failure', failures: 0, failed: true, threshold: 3, want: { failures: 1, fire: false } },
    {
      name: 'fires on the failure that reaches the threshold',
      failures: 2,
      failed: true,
      threshold: 3,
      want: { failures: 3, fire: true },
    },
    {
      name: 'stays quiet past the threshold',
      failures: 3,
      failed: true,
      threshold: 3,
      want: { failures: 4, fire: false },
    },
    {
      name: 'a success re-arms',
      failures: 5,
      failed: false,
      threshold: 3,
      want: { failures: 0, fire: false },
    },
    {
      name: 'a threshold of one fires on the first failure',
      failures: 0,
      failed: true,
      threshold: 1,
      want: { failures: 1, fire: true },
    },
  ])('$name', ({ failures, failed, threshold, want }) => {
    expect(streakStep(failures, failed, threshold)).toEqual(want);
  });

  it('raises once per run of failures over a sequence of runs', () => {
    const runs = [true, true, true, true, true, false, true, true, false, true, true, true];
    let failures = 0;
    const fired: number[] = [];
    runs.forEach((failed, i) => {
      const step = streakStep(failures, failed, 3);
      failures = step.failures;
      if (step.fire) fired.push(i);
    });
    expect(fired).toEqual([2, 11]);
  });
});

describe('newFilesStep', () => {
  const core = (name: string) => name.startsWith('core');

  it('reports nothing from the first listing (those files were there before the check)', () => {
    expect(newFilesStep(undefined, ['core.1', 'x'], core)).toEqual({
      seen: new Set(['core.1', 'x']),
      fresh: [],
    });
  });

  it('reports each new matching name once, sorted', () => {
    const first = newFilesStep(undefined, ['core.1'], core);
    const second = newFilesStep(first.seen, ['core.1', 'core.3', 'notes', 'core.2'], core);
    expect(second.fresh).toEqual(['core.2', 'core.3']);
    expect(newFilesStep(second.seen, ['core.1', 'core.3', 'notes', 'core.2'], core).fresh).toEqual([]);
  });

  it('reports a name that left and came back (a new file of the same name)', () => {
    const gone = newFilesStep(new Set(['core.1']), [], core);
    expect(newFilesStep(gone.seen, ['core.1'], core).fresh).toEqual(['core.1']);
  });
});

describe('usedPercent and diskOver', () => {
  it.each([
    { name: 'half used', s: { blocks: 100, bfree: 50, bavail: 50 }, want: 50 },
    // df: used / (used + available to users), so reserved blocks count as unavailable
    { name: 'reserved blocks excluded', s: { blocks: 100, bfree: 20, bavail: 15 }, want: 84.3 },
    { name: 'full', s: { blocks: 100, bfree: 5, bavail: 0 }, want: 100 },
    { name: 'an empty pseudo file system', s: { blocks: 0, bfree: 0, bavail: 0 }, want: 0 },
  ])('computes $name as df does', ({ s, want }) => {
    expect(usedPercent(s)).toBe(want);
  });

  it('is over only strictly above the threshold', () => {
    expect([diskOver(90, 90), diskOver(90.1, 90), diskOver(10, 0.5)]).toEqual([false, true, true]);
  });
});

describe('the mount table', () => {
  const table = [
    'sysfs /sys sysfs rw,nosuid 0 0',
    '/dev/sda1 / ext4 rw,relatime 0 0',
    '/dev/sdb1 /data xfs ro,relatime 0 0',
    '/dev/sdc1 /data/my\\040disk ext4 rw 0 0',
    'tmpfs /database tmpfs rw 0 0',
    'broken line',
    '',
  ].join('\n');
  const mounts = parseMounts(table);

  it('parses entries and decodes octal escapes', () => {
    expect(mounts.map((m) => m.mountPoint)).toEqual(['/sys', '/', '/data', '/data/my disk', '/database']);
    expect(mounts[2]).toEqual({
      device: '/dev/sdb1',
      mountPoint: '/data',
      fstype: 'xfs',
      options: ['ro', 'relatime'],
    });
  });

  it.each([
    { path: '/data', want: '/data' },
    { path: '/data/x/y', want: '/data' },
    { path: '/data/my disk/f', want: '/data/my disk' },
    { path: '/database/x', want: '/database' },
    { path: '/datab', want: '/' },
    { path: '/var/log', want: '/' },
  ])('finds the mount holding $path', ({ path, want }) => {
    expect(mountHolding(mounts, path)?.mountPoint).toBe(want);
  });

  it('lets a later mount on the same point hide an earlier one', () => {
    const stacked = parseMounts('/dev/a /m ext4 rw 0 0\n/dev/b /m ext4 ro 0 0\n');
    expect(mountHolding(stacked, '/m/f')?.device).toBe('/dev/b');
  });

  it('says read-only from the ro option only', () => {
    expect(mounts.map(mountReadOnly)).toEqual([false, false, true, false, false]);
  });
});
