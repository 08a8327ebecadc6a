/**
 * ProcessMonitor.operate (bk-nodeman's operations, agent side) on real processes: a stop kills the watched
 * process and holds the watch's own restarts off, a start brings it back, a start of a running process and
 * a stop of a stopped one are no-ops that succeed, and an unknown watch fails saying so.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProcScanner, scanProcesses } from '../../../agent/engine/proc-scan.js';
import { OP_FAILED_EXIT_CODE, ProcessMonitor } from '../../../agent/engine/process-watch.js';
import { processWatch, type Sandbox, sandbox, waitFor } from './helpers.js';

describe('ProcessMonitor.operate', () => {
  let box: Sandbox;
  const duration = `1100.${process.pid}${Math.floor(Math.random() * 1e6)}`;
  const sleeps = async () =>
    (await scanProcesses()).filter((p) => p.state !== 'Z' && p.argv.join(' ') === `sleep ${duration}`);

  beforeEach(async () => {
    box = await sandbox('gse-procop-');
  });
  afterEach(async () => {
    for (const p of await sleeps()) process.kill(p.pid, 'SIGKILL');
    await box.cleanup();
  });

  it('stops a running watch and keeps it down through probes, then starts it again', async () => {
    let now = Date.UTC(2024, 0, 1);
    const monitor = new ProcessMonitor({
      clock: { now: () => now },
      root: '',
      stateDir: join(box.dir, 'state'),
      scanner: new ProcScanner({ maxAgeMs: 0 }),
      onEvent: () => {},
      baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    const cmdline = `^sleep ${duration.replace('.', '\\.')}$`;
    monitor.setWatches([
      processWatch('svc', { cmdline }, { ensure: 'running', start: `exec sleep ${duration}` }),
    ]);
    // Probes are driven by hand with a clock that jumps past every interval and back-off.
    const probe = async () => {
      now += 120_000;
      await monitor.tick();
    };
    await probe();
    await waitFor(async () => (await sleeps()).length === 1, 'the watch to start its process');

    const stopped = await monitor.operate('svc', 'stop', undefined, 10_000);
    expect(stopped).toMatchObject({ exitCode: 0, killed: false });
    expect(stopped.stdoutTail).toContain('sent SIGTERM');
    expect(await sleeps()).toEqual([]);
    for (let i = 0; i < 3; i++) await probe();
    expect(await sleeps()).toEqual([]);
    expect(await monitor.operate('svc', 'stop', undefined, 10_000)).toMatchObject({
      exitCode: 0,
      stdoutTail: 'svc is not running',
    });

    const started = await monitor.operate('svc', 'start', undefined, 10_000);
    expect(started).toMatchObject({ exitCode: 0, stdoutTail: `ran start: exec sleep ${duration}` });
    expect((await sleeps()).length).toBe(1);
    expect(await monitor.operate('svc', 'start', undefined, 10_000)).toMatchObject({
      exitCode: 0,
      stdoutTail: 'svc is already running',
    });
    await probe();
    expect((await sleeps()).length).toBe(1);
    await monitor.stop();
  });

  it('fails an operation on a watch the manifest does not hold, or a start with no command', async () => {
    const monitor = new ProcessMonitor({
      clock: { now: () => 0 },
      root: '',
      stateDir: join(box.dir, 'state'),
      scanner: new ProcScanner({ maxAgeMs: 0 }),
      onEvent: () => {},
    });
    // A pattern no process has: the first test's sleep, SIGKILLed in afterEach, may not be reaped yet, and a
    // watch that matched it would answer "already running" instead of failing.
    monitor.setWatches([
      processWatch('observed', { cmdline: `^sleep ${duration.replace('.', '\\.')}-never$` }),
    ]);
    const unknown = await monitor.operate('nope', 'restart', undefined, 1_000);
    expect(unknown).toMatchObject({ exitCode: OP_FAILED_EXIT_CODE });
    expect(unknown.stderrTail).toContain('no ProcessWatch named nope');
    const noStart = await monitor.operate('observed', 'start', undefined, 1_000);
    expect(noStart).toMatchObject({ exitCode: OP_FAILED_EXIT_CODE });
    expect(noStart.stderrTail).toContain('declares no start command');
    await monitor.stop();
  });
});
