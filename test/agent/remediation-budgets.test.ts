/** RemediationBudgets: a real file, written atomically; concurrent changes go out together (group commit). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RemediationBudgets } from '../../agent/remediation-budgets.js';
import { type Sandbox, sandbox } from './engine/helpers.js';

describe('RemediationBudgets', () => {
  let box: Sandbox;
  let file: string;
  beforeEach(async () => {
    box = await sandbox('gse-budgets-');
    file = join(box.dir, 'state', 'remediation-budgets.json');
  });
  afterEach(() => box.cleanup());

  const onDisk = async () =>
    (JSON.parse(await readFile(file, 'utf8')) as { budgets: Record<string, { lastStartAt: number }> })
      .budgets;

  it('has every change of a burst on disk once each set resolves, the last one of a key winning', async () => {
    const b = await RemediationBudgets.open(file);
    const writes = Array.from({ length: 200 }, (_, i) =>
      b.set(`Remediation/r${i % 20}`, { lastStartAt: i + 1, starts: [i + 1] }),
    );
    // The first set resolves only once a write holding it is on disk.
    await writes[0];
    expect((await onDisk())['Remediation/r0']?.lastStartAt).toBeGreaterThanOrEqual(1);
    await Promise.all(writes);
    const disk = await onDisk();
    expect(Object.keys(disk)).toHaveLength(20);
    for (let k = 0; k < 20; k++) expect(disk[`Remediation/r${k}`]?.lastStartAt).toBe(180 + k + 1);
    const reopened = await RemediationBudgets.open(file);
    expect(reopened.get('Remediation/r7')).toEqual({ lastStartAt: 188, starts: [188] });
  });

  it('writes a change made while a write is in flight in a later write', async () => {
    const b = await RemediationBudgets.open(file);
    const first = b.set('Remediation/a', { lastStartAt: 1, starts: [1] });
    // `first` is queued; the next set joins it or the write after it, and resolves once it is on disk.
    const second = b.set('Remediation/b', { lastStartAt: 2, starts: [2] });
    await first;
    const third = b.set('Remediation/a', { lastStartAt: 3, starts: [3] });
    await Promise.all([second, third]);
    const disk = await onDisk();
    expect(disk['Remediation/a']?.lastStartAt).toBe(3);
    expect(disk['Remediation/b']?.lastStartAt).toBe(2);
  });

  it('forgets what left the manifest, on disk too', async () => {
    const b = await RemediationBudgets.open(file);
    await b.set('Remediation/a', { lastStartAt: 1, starts: [1] });
    await b.set('Remediation/b', { lastStartAt: 2, starts: [2] });
    await b.retain(new Set(['Remediation/b']));
    expect(Object.keys(await onDisk())).toEqual(['Remediation/b']);
  });
});
