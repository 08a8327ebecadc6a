import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../agent/engine/deps.js';
import { type ProcInfo, ProcScanner, parseStat, scanProcesses } from '../../../agent/engine/proc-scan.js';
import {
  matchProcesses,
  parsePidFile,
  probeTransition,
  RESTART_BACKOFF_BASE_MS,
  RESTART_BACKOFF_MAX_MS,
  restartDelayMs,
} from '../../../agent/engine/process-match.js';
import { ProcessMonitor, probeWatch, probeWatches } from '../../../agent/engine/process-watch.js';
import type { HostEvent } from '../../../src/protocol/messages.js';
import { pidAlive, processWatch, type Sandbox, sandbox, waitFor } from './helpers.js';

const proc = (pid: number, comm: string, argv: string[], state = 'S'): ProcInfo => ({
  pid,
  ppid: 1,
  comm,
  state,
  argv,
});

describe('process matching', () => {
  const procs = [
    proc(10, 'nginx', ['nginx: master process /usr/sbin/nginx']),
    proc(11, 'nginx', ['nginx: worker process']),
    proc(12, 'java-long-name-', ['/usr/bin/java-long-name-server', '-jar', 'app.jar']),
    proc(13, 'sleep', ['sleep', '100'], 'Z'),
    proc(14, 'python3', ['/usr/bin/python3', 'worker.py', '--queue', 'q1']),
  ];
  it.each([
    { name: 'a name', spec: { name: 'nginx' }, pidFile: undefined, want: [10, 11] },
    {
      name: 'a name longer than comm',
      spec: { name: 'java-long-name-server' },
      pidFile: undefined,
      want: [12],
    },
    { name: 'an argv[0] basename', spec: { name: 'python3' }, pidFile: undefined, want: [14] },
    { name: 'a cmdline regex', spec: { cmdline: 'worker\\.py --queue q1$' }, pidFile: undefined, want: [14] },
    { name: 'name and cmdline', spec: { name: 'nginx', cmdline: 'master' }, pidFile: undefined, want: [10] },
    { name: 'a pid file', spec: { pidFile: '/run/n.pid' }, pidFile: 11, want: [11] },
    {
      name: 'a pid file with a wrong name',
      spec: { pidFile: '/run/n.pid', name: 'redis' },
      pidFile: 11,
      want: [],
    },
    { name: 'an unreadable pid file', spec: { pidFile: '/run/n.pid' }, pidFile: null, want: [] },
    { name: 'a zombie only', spec: { name: 'sleep' }, pidFile: undefined, want: [] },
    { name: 'no criterion', spec: {}, pidFile: undefined, want: [] },
  ])('matches $want when given $name', ({ spec, pidFile, want }) => {
    expect(matchProcesses(spec, procs, pidFile)).toEqual(want);
  });

  it('throws when the cmdline regex is invalid', () => {
    expect(() => matchProcesses({ cmdline: '(' }, procs, undefined)).toThrow(SyntaxError);
  });

  it.each([
    { previous: undefined, running: true, want: null },
    { previous: undefined, running: false, want: 'process.down' },
    { previous: true, running: true, want: null },
    { previous: true, running: false, want: 'process.down' },
    { previous: false, running: false, want: null },
    { previous: false, running: true, want: 'process.up' },
  ])('emits $want when previous=$previous and running=$running', ({ previous, running, want }) => {
    expect(probeTransition(previous, running)).toBe(want);
  });

  it.each([
    { attempt: 0, want: 0 },
    { attempt: 1, want: RESTART_BACKOFF_BASE_MS },
    { attempt: 2, want: 2 * RESTART_BACKOFF_BASE_MS },
    { attempt: 30, want: RESTART_BACKOFF_MAX_MS },
  ])('waits $want ms before restart attempt $attempt', ({ attempt, want }) => {
    expect(restartDelayMs(attempt)).toBe(want);
  });

  it.each([
    { text: '123\n', want: 123 },
    { text: ' 77 extra', want: 77 },
    { text: 'abc', want: null },
    { text: '-5', want: null },
    { text: '', want: null },
  ])('reads pid $want from pid file text "$text"', ({ text, want }) => {
    expect(parsePidFile(text)).toBe(want);
  });

  it('parses a stat line whose name holds spaces and parentheses', () => {
    expect(parseStat('42 (my (odd) name) S 7 42 42 0')).toEqual({
      comm: 'my (odd) name',
      state: 'S',
      ppid: 7,
    });
  });
});

describe('process watching on /proc', () => {
  let box: Sandbox;
  const children: ChildProcess[] = [];
  /** A unique `sleep` duration, so cmdline regexes only see this test's processes. */
  const token = () => `1000.${process.pid}${Math.floor(Math.random() * 1e6)}`;
  const startSleep = (duration: string) => {
    const child = spawn('sleep', [duration], { stdio: 'ignore' });
    children.push(child);
    return child.pid as number;
  };
  /** Kills every process whose cmdline mentions `duration` (processes the monitor started). */
  const killAll = async (duration: string) => {
    for (const p of await scanProcesses())
      if (p.argv.join(' ').includes(duration)) process.kill(p.pid, 'SIGKILL');
  };

  beforeEach(async () => {
    box = await sandbox('gse-proc-');
  });
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    await box.cleanup();
  });

  it('finds a real sleep by name, by cmdline regex and by pid file when it runs', async () => {
    const duration = token();
    const pid = startSleep(duration);
    const root = join(box.dir, 'root');
    await mkdir(join(root, 'run'), { recursive: true });
    await writeFile(join(root, 'run/sleep.pid'), `${pid}\n`);
    const procs = await scanProcesses();
    const byName = await probeWatch(processWatch('n', { name: 'sleep' }), procs, root);
    expect(byName.pids).toContain(pid);
    const escaped = duration.replace('.', '\\.');
    expect(await probeWatch(processWatch('c', { cmdline: `^sleep ${escaped}$` }), procs, root)).toEqual({
      running: true,
      pids: [pid],
    });
    expect(await probeWatch(processWatch('p', { pidFile: '/run/sleep.pid' }), procs, root)).toEqual({
      running: true,
      pids: [pid],
    });
    expect(await probeWatch(processWatch('bad', { cmdline: '(' }), procs, root)).toMatchObject({
      running: false,
      error: expect.stringMatching(/Invalid regular expression/),
    });
  });

  it('probes every watch from one /proc scan when several are due together', async () => {
    const scanner = new ProcScanner({ maxAgeMs: 0 });
    const watches = [processWatch('a', { name: 'sleep' }), processWatch('b', { name: 'init' })];
    const results = await probeWatches(watches, { scanner, root: '' });
    expect([...results.keys()]).toEqual(['ProcessWatch/a', 'ProcessWatch/b']);
    expect(scanner.scans).toBe(1);
  });

  it('emits process.down only on the transition when an observed process is killed', async () => {
    const duration = token();
    const pid = startSleep(duration);
    const events: HostEvent[] = [];
    const monitor = new ProcessMonitor({
      clock: systemClock,
      root: '',
      stateDir: join(box.dir, 'state'),
      scanner: new ProcScanner({ maxAgeMs: 0 }),
      onEvent: (e) => events.push(e),
    });
    const key = 'ProcessWatch/sleeper';
    monitor.setWatches([processWatch('sleeper', { cmdline: `^sleep ${duration.replace('.', '\\.')}$` })]);
    monitor.start();
    await waitFor(() => monitor.status(key)?.running === true, 'the first probe');
    expect(events).toEqual([]);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => events.length > 0, 'process.down');
    await waitFor(() => !pidAlive(pid), 'the sleep to be reaped');
    await monitor.tick();
    await monitor.stop();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'process.down',
      resource: key,
      fields: { process: 'sleeper', name: 'sleeper', pids: [], ensure: 'observed', restarts: 0 },
    });
  });

  it('starts a process that must run, and restarts it when killed: down, up, then restarted each time', async () => {
    const duration = token();
    const stateDir = join(box.dir, 'state');
    const events: HostEvent[] = [];
    const monitor = new ProcessMonitor({
      clock: systemClock,
      root: '',
      stateDir,
      scanner: new ProcScanner({ maxAgeMs: 0 }),
      onEvent: (e) => events.push(e),
      baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    const key = 'ProcessWatch/svc';
    const cmdline = `^sleep ${duration.replace('.', '\\.')}$`;
    monitor.setWatches([
      processWatch('svc', { cmdline }, { ensure: 'running', start: `echo starting; exec sleep ${duration}` }),
    ]);
    const types = () => events.map((e) => e.type);
    try {
      monitor.start();
      await waitFor(() => events.length >= 3, 'down, up and restarted');
      expect(types()).toEqual(['process.down', 'process.up', 'process.restarted']);
      const [pid] = monitor.status(key)?.pids ?? [];
      expect(pid).toBeGreaterThan(0);
      expect(events[2]).toMatchObject({
        resource: key,
        fields: { process: 'svc', name: 'svc', pids: [pid], restarts: 1 },
      });
      expect(await readFile(join(stateDir, 'process-logs', 'svc.log'), 'utf8')).toContain('starting');

      process.kill(pid as number, 'SIGKILL');
      await waitFor(() => events.length >= 6, 'a second down, up and restarted', { timeoutMs: 15_000 });
      expect(types()).toEqual([
        'process.down',
        'process.up',
        'process.restarted',
        'process.down',
        'process.up',
        'process.restarted',
      ]);
      expect(events[4]?.fields).toMatchObject({ restarts: 2, ensure: 'running' });
      expect(events[5]?.fields).toMatchObject({ process: 'svc', restarts: 2 });
      expect(monitor.status(key)?.pids).not.toContain(pid);
    } finally {
      await monitor.stop();
      await killAll(duration);
    }
  });

  it('raises process.restart_failed once per start whose command fails, with why', async () => {
    const events: HostEvent[] = [];
    const monitor = new ProcessMonitor({
      clock: systemClock,
      root: '',
      stateDir: join(box.dir, 'state'),
      scanner: new ProcScanner({ maxAgeMs: 0 }),
      onEvent: (e) => events.push(e),
      baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    const key = 'ProcessWatch/broken';
    monitor.setWatches([
      processWatch(
        'broken',
        { cmdline: `^never-runs-${token()}$` },
        { ensure: 'running', start: 'echo cannot start >&2; exit 3' },
      ),
    ]);
    try {
      monitor.start();
      const failures = () => events.filter((e) => e.type === 'process.restart_failed');
      // The second start comes after the backoff (1 s): each start is reported once, in order.
      await waitFor(() => failures().length >= 2, 'two failed starts', { timeoutMs: 15_000 });
      expect(events[0]?.type).toBe('process.down');
      expect(failures().map((e) => e.fields.restarts)).toEqual([1, 2]);
      expect(failures()[0]).toMatchObject({
        resource: key,
        fields: {
          process: 'broken',
          name: 'broken',
          restarts: 1,
          error: 'the start command exited with code 3',
        },
      });
      expect(events.some((e) => e.type === 'process.restarted' || e.type === 'process.up')).toBe(false);
    } finally {
      await monitor.stop();
    }
  });

  it('raises process.restart_failed when the start command exits 0 but no matching process runs', async () => {
    const events: HostEvent[] = [];
    const monitor = new ProcessMonitor({
      clock: systemClock,
      root: '',
      stateDir: join(box.dir, 'state'),
      scanner: new ProcScanner({ maxAgeMs: 0 }),
      onEvent: (e) => events.push(e),
    });
    monitor.setWatches([
      processWatch('ghost', { cmdline: `^never-runs-${token()}$` }, { ensure: 'running', start: 'true' }),
    ]);
    try {
      monitor.start();
      await waitFor(() => events.some((e) => e.type === 'process.restart_failed'), 'process.restart_failed');
      expect(events.find((e) => e.type === 'process.restart_failed')?.fields).toMatchObject({
        process: 'ghost',
        restarts: 1,
        error: 'the start command exited and no matching process runs',
      });
    } finally {
      await monitor.stop();
    }
  });
});
