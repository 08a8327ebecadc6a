import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { DetectDeps } from '../../../agent/engine/detect-checks.js';
import { HostCheckMonitor, hostChecks, hostDetectIo } from '../../../agent/engine/detect-monitor.js';
import { runScript } from '../../../agent/engine/exec.js';
import type { ManifestHostCheck } from '../../../src/protocol/manifest.js';
import type { HostEvent, ItemReport } from '../../../src/protocol/messages.js';
import { manifest, sandbox, steppingClock, waitFor } from './helpers.js';

function diskCheck(threshold: number, hash = `h${threshold}`): ManifestHostCheck {
  return {
    kind: 'HostCheck',
    name: 'disk',
    hash,
    intervalMs: 100,
    disk: { mount: '/', usedPercentOver: threshold },
  };
}

function recorder(used: () => number) {
  const events: HostEvent[] = [];
  const statuses: ItemReport[] = [];
  const deps: DetectDeps & { onEvent(e: HostEvent): void; onStatus(r: ItemReport): void } = {
    clock: steppingClock(),
    root: '',
    statfs: async () => ({ blocks: 100, bfree: 100 - used(), bavail: 100 - used() }),
    mounts: async () => [],
    listDir: async () => [],
    fileInfo: async () => undefined,
    run: async () => {
      throw new Error('no commands here');
    },
    onEvent: (e) => events.push(e),
    onStatus: (r) => statuses.push(r),
  };
  return { deps, events, statuses };
}

describe('HostCheckMonitor', () => {
  it('hands on events and reports a status only when it changes', async () => {
    let used = 95;
    const { deps, events, statuses } = recorder(() => used);
    const monitor = new HostCheckMonitor(deps);
    monitor.setChecks([diskCheck(90)]);
    for (let i = 0; i < 3; i++) await monitor.probe('HostCheck/disk');
    used = 10;
    await monitor.probe('HostCheck/disk');
    expect(events.map((e) => e.type)).toEqual(['disk.full']);
    expect(statuses.map((s) => [s.state, s.message])).toEqual([
      ['ok', 'raised disk.full: / 95% used, over 90%'],
      ['ok', 'armed'],
    ]);
  });

  it('keeps an unchanged check (re-reporting what it found), restarts a changed one, drops a removed one', async () => {
    const { deps, events, statuses } = recorder(() => 95);
    const monitor = new HostCheckMonitor(deps);
    monitor.setChecks([diskCheck(90)]);
    await monitor.probe('HostCheck/disk');
    monitor.setChecks([diskCheck(90)]);
    await monitor.probe('HostCheck/disk');
    expect(events).toHaveLength(1);
    expect(statuses).toHaveLength(2); // raised, then said again after the (re-)apply
    monitor.setChecks([diskCheck(80)]);
    await monitor.probe('HostCheck/disk');
    expect(events).toHaveLength(2);
    monitor.setChecks([]);
    await monitor.probe('HostCheck/disk');
    expect(events).toHaveLength(2);
  });

  it('picks the HostCheck items of a manifest', () => {
    const items = [diskCheck(1)];
    expect(hostChecks(manifest(items))).toEqual(items);
    expect(hostChecks(undefined)).toEqual([]);
  });

  it('runs on its interval on the real host: a failing command raises check.failed once', async () => {
    const box = await sandbox();
    const events: HostEvent[] = [];
    const clock = { now: () => Date.now() };
    const monitor = new HostCheckMonitor({
      ...hostDetectIo,
      clock,
      root: '',
      run: (spec) => runScript(spec, { clock, scriptDir: box.dir }),
      onEvent: (e) => events.push(e),
      onStatus: () => {},
    });
    const flag = `${box.dir}/flag`;
    const runs = `${box.dir}/runs`;
    monitor.setChecks([
      {
        kind: 'HostCheck',
        name: 'flag',
        hash: 'h',
        intervalMs: 100,
        command: { run: `echo x >> ${runs}; test -f ${flag}`, failuresInARow: 2, timeoutMs: 5000 },
      },
    ]);
    monitor.start();
    try {
      const runCount = async () => (await readFile(runs, 'utf8').catch(() => '')).split('\n').length - 1;
      await waitFor(async () => (await runCount()) >= 5, 'five runs of the check');
      expect(events.map((e) => [e.type, e.fields.failures, e.fields.exitCode])).toEqual([
        ['check.failed', 2, 1],
      ]);
    } finally {
      await monitor.stop();
      await box.cleanup();
    }
  });
});
