import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../agent/engine/deps.js';
import {
  commandFor,
  type ExecDeps,
  OUTPUT_TAIL_BYTES,
  runScript,
  SPAWN_FAILED_EXIT_CODE,
} from '../../../agent/engine/exec.js';
import { AppendLog } from '../../../agent/engine/record-log.js';
import { INTERRUPTED_MESSAGE, TaskLedger } from '../../../agent/engine/task-ledger.js';
import { pidAlive, type Sandbox, sandbox, waitFor } from './helpers.js';

describe('commandFor', () => {
  it.each([
    { interpreter: '/bin/sh', argv: ['/bin/sh', '-c', 'S'], needsFile: false },
    { interpreter: 'bash', argv: ['bash', '-c', 'S'], needsFile: false },
    { interpreter: '/usr/bin/zsh -e', argv: ['/usr/bin/zsh', '-e', '-c', 'S'], needsFile: false },
    { interpreter: 'python3 -u', argv: ['python3', '-u', '/tmp/f'], needsFile: true },
    { interpreter: 'perl', argv: ['perl', '/tmp/f'], needsFile: true },
    { interpreter: '  ', argv: ['/bin/sh', '-c', 'S'], needsFile: false },
  ])('builds $argv when the interpreter is "$interpreter"', ({ interpreter, argv, needsFile }) => {
    expect(commandFor('S', interpreter, '/tmp/f')).toEqual({ argv, needsFile });
  });
});

describe('runScript', () => {
  let box: Sandbox;
  let deps: ExecDeps;
  beforeEach(async () => {
    box = await sandbox('gse-exec-');
    deps = {
      clock: systemClock,
      baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      scriptDir: join(box.dir, 'tmp'),
    };
  });
  afterEach(() => box.cleanup());

  it('reports exit code and output when the script exits on its own', async () => {
    const ok = await runScript(
      { taskId: 't1', script: 'echo out; echo err >&2; exit 3', timeoutMs: 10_000 },
      deps,
    );
    expect(ok).toMatchObject({
      exitCode: 3,
      signal: null,
      stdoutTail: 'out\n',
      stderrTail: 'err\n',
      timedOut: false,
      killed: false,
    });
    expect(Date.parse(ok.startedAt)).not.toBeNaN();
    expect(ok.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('passes env and cwd to the script when given', async () => {
    const out = await runScript(
      {
        taskId: 't',
        script: 'echo "$GREETING $(pwd)"',
        timeoutMs: 10_000,
        env: { GREETING: 'hi' },
        cwd: box.dir,
      },
      deps,
    );
    expect(out.stdoutTail).toBe(`hi ${box.dir}\n`);
  });

  it('keeps only the last OUTPUT_TAIL_BYTES of stdout when the script prints more', async () => {
    const script = `head -c ${3 * OUTPUT_TAIL_BYTES} /dev/zero | tr '\\0' a; printf END`;
    const out = await runScript({ taskId: 't', script, timeoutMs: 20_000 }, deps);
    expect(out.exitCode).toBe(0);
    expect(Buffer.byteLength(out.stdoutTail)).toBe(OUTPUT_TAIL_BYTES);
    expect(out.stdoutTail.endsWith('aaaEND')).toBe(true);
  });

  it('runs a non-shell interpreter from a temp file when one is given', async () => {
    const out = await runScript(
      { taskId: 't', script: 'print "perl says ", 6*7, "\\n";', interpreter: 'perl', timeoutMs: 10_000 },
      deps,
    );
    expect(out).toMatchObject({ exitCode: 0, stdoutTail: 'perl says 42\n' });
  });

  it('reports exit code 127 when the interpreter does not exist', async () => {
    const out = await runScript(
      { taskId: 't', script: 'x', interpreter: '/nonexistent/interp', timeoutMs: 10_000 },
      deps,
    );
    expect(out.exitCode).toBe(SPAWN_FAILED_EXIT_CODE);
    expect(out.stderrTail).toMatch(/cannot run \/nonexistent\/interp/);
  });

  it('kills the whole process group, grandchild included, when the timeout fires', async () => {
    const pidFile = join(box.dir, 'grandchild.pid');
    const script = `sleep 1000 & echo $! > ${pidFile}; wait`;
    const out = await runScript({ taskId: 't', script, timeoutMs: 1_000 }, deps);
    expect(out).toMatchObject({ timedOut: true, killed: true, exitCode: null, signal: 'SIGTERM' });
    const grandchild = Number(await readFile(pidFile, 'utf8'));
    await waitFor(() => !pidAlive(grandchild), `grandchild ${grandchild} to die`);
  });

  it('escalates to SIGKILL after the grace when the group ignores SIGTERM', async () => {
    const pidFile = join(box.dir, 'stubborn.pid');
    const script = `trap '' TERM; sleep 1000 & echo $! > ${pidFile}; wait; wait`;
    const out = await runScript({ taskId: 't', script, timeoutMs: 1_000 }, { ...deps, killGraceMs: 200 });
    expect(out).toMatchObject({ timedOut: true, killed: true, signal: 'SIGKILL' });
    const grandchild = Number(await readFile(pidFile, 'utf8'));
    await waitFor(() => !pidAlive(grandchild), `grandchild ${grandchild} to die`);
  });

  it('kills the script when its abort signal fires', async () => {
    const ac = new AbortController();
    const run = runScript(
      { taskId: 't', script: 'echo started; sleep 1000', timeoutMs: 60_000, signal: ac.signal },
      deps,
    );
    setImmediate(() => ac.abort());
    const out = await run;
    expect(out).toMatchObject({ killed: true, timedOut: false, signal: 'SIGKILL' });
  });
});

describe('TaskLedger', () => {
  let box: Sandbox;
  let deps: ExecDeps;
  beforeEach(async () => {
    box = await sandbox('gse-ledger-');
    deps = { clock: systemClock, baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' } };
  });
  afterEach(() => box.cleanup());

  it('runs a task id once and returns the recorded outcome when it is re-sent, also after a reopen', async () => {
    const file = join(box.dir, 'state', 'tasks.log');
    const counter = join(box.dir, 'runs');
    const spec = { taskId: 'task-1', script: `echo run >> ${counter}; echo done`, timeoutMs: 10_000 };
    const ledger = await TaskLedger.open(file);
    const [a, b] = await Promise.all([ledger.runOnce(spec, deps), ledger.runOnce(spec, deps)]);
    expect(a.reused).toBe(false);
    expect(b).toEqual({ outcome: a.outcome, reused: true });
    expect((await ledger.runOnce(spec, deps)).reused).toBe(true);
    await ledger.close();

    const reopened = await TaskLedger.open(file);
    const again = await reopened.runOnce(spec, deps);
    expect(again).toEqual({ outcome: a.outcome, reused: true });
    expect(await readFile(counter, 'utf8')).toBe('run\n');
    await reopened.close();
  });

  it('records a task as interrupted, not re-run, when the agent died while it ran', async () => {
    const file = join(box.dir, 'tasks.log');
    const { log } = await AppendLog.open(file);
    await log.append({ t: 'start', id: 'task-x', at: '2024-01-01T00:00:00.000Z' });
    await log.close();
    const ledger = await TaskLedger.open(file);
    const counter = join(box.dir, 'runs');
    const res = await ledger.runOnce(
      { taskId: 'task-x', script: `echo run >> ${counter}`, timeoutMs: 10_000 },
      deps,
    );
    expect(res.reused).toBe(true);
    expect(res.outcome).toMatchObject({ exitCode: null, killed: true, stderrTail: INTERRUPTED_MESSAGE });
    await expect(readFile(counter, 'utf8')).rejects.toThrow(/ENOENT/);
    await ledger.close();
  });

  it('keeps only the newest tasks when the file holds more than twice the cap', async () => {
    const file = join(box.dir, 'tasks.log');
    const ledger = await TaskLedger.open(file, 3);
    for (let i = 0; i < 4; i++)
      await ledger.runOnce({ taskId: `t${i}`, script: 'true', timeoutMs: 10_000 }, deps);
    await ledger.close();
    const reopened = await TaskLedger.open(file, 3);
    expect(reopened.size).toBe(3);
    expect(reopened.outcome('t0')).toBeUndefined();
    expect(reopened.outcome('t3')?.exitCode).toBe(0);
    await reopened.close();
  });
});
