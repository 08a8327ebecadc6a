/**
 * bk-job's script calls over a fake port (memory store, recording exec engine): what is sent, how records
 * read in GSE's codes, output by byte offset, terminate, atomic tasks that wait for others, bad input. The
 * wrapper script itself runs under a real /bin/sh.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  ATOMIC,
  GSE_BAD_REQUEST,
  GSE_TASK_NOT_FOUND,
  GseError,
  SCRIPT_STATUS,
} from '../../src/gse-task/errors.js';
import {
  executeScript,
  getExecuteScriptResult,
  screenFrom,
  scriptOutcome,
  scriptWrapper,
  terminateScript,
} from '../../src/gse-task/script.js';
import type { ExecMessage } from '../../src/protocol/messages.js';
import type { ExecutionRecord } from '../../src/store/types.js';
import { fakePort } from './fake-port.js';

const run = promisify(execFile);
const HOSTS = [
  { hostId: 'web-1', ips: ['10.0.0.1'], cloudId: 0, alive: true },
  { hostId: 'web-2', ips: ['10.0.0.2'], cloudId: 2, alive: false },
];
const ctx = { caller: 'bk-job' };

function request(extra: Record<string, unknown> = {}) {
  return {
    agents: [
      { bk_agent_id: 'web-1', bk_container_id: '', user: 'root', pwd: '' },
      { bk_agent_id: '2:10.0.0.2', bk_container_id: '', user: 'root' },
      { bk_agent_id: 'ghost', bk_container_id: '' },
    ],
    scripts: [
      { script_name: 'bk_gse_script_a.sh', script_store_dir: '/tmp/job', script_content: 'echo hi\n' },
    ],
    atomic_tasks: [{ atomic_task_id: 0, command: '/tmp/job/bk_gse_script_a.sh x', timeout_seconds: 30 }],
    ...extra,
  };
}

async function gseError(p: Promise<unknown>): Promise<GseError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GseError);
  return err as GseError;
}

describe('scriptWrapper', () => {
  it('writes each script to a temp dir and runs the command with that path, under a real sh', async () => {
    const content = `#!/bin/sh\necho "args: $*"\necho "quotes ' and \\" and __GSE_SCRIPT__ survive"\nexit 7\n`;
    const wrapper = scriptWrapper(
      [{ name: "it's.sh", storeDir: '/data/job/', content }],
      "/data/job/it's.sh one 'two three'",
    );
    const out = await run('/bin/sh', ['-c', wrapper]).then(
      () => undefined,
      (e: { code: number; stdout: string }) => e,
    );
    expect(out?.code).toBe(7);
    expect(out?.stdout).toBe(`args: one two three\nquotes ' and " and __GSE_SCRIPT__ survive\n`);
    expect(wrapper).not.toContain('/data/job/');
  });
});

describe('screenFrom', () => {
  it.each([
    { name: 'from the start', text: 'abc', offset: 0, limit: undefined, out: 'abc' },
    { name: 'past what was read', text: 'abcdef', offset: 3, limit: undefined, out: 'def' },
    { name: 'past the end', text: 'abc', offset: 9, limit: undefined, out: '' },
    { name: 'by UTF-8 bytes, not characters', text: '中文ab', offset: 3, limit: undefined, out: '文ab' },
    { name: 'never cutting a character at the limit', text: '中文', offset: 0, limit: 4, out: '中' },
  ])('reads $name', ({ text, offset, limit, out }) => {
    expect(screenFrom(text, offset, limit)).toBe(out);
  });
});

describe('scriptOutcome', () => {
  const rec = (patch: Partial<ExecutionRecord>): ExecutionRecord => ({
    id: 't/0',
    hostId: 'web-1',
    reason: 'adhoc',
    command: 'x',
    status: 'failed',
    exitCode: 1,
    signal: null,
    stdoutTail: '',
    stderrTail: '',
    startedAt: '2026-01-01T00:00:00.000Z',
    timedOut: false,
    killed: false,
    ...patch,
  });
  it.each([
    {
      name: 'running',
      r: rec({ status: 'running', exitCode: null }),
      terminated: false,
      status: SCRIPT_STATUS.running,
      code: ATOMIC.running,
      exit: 0,
    },
    {
      name: 'succeeded',
      r: rec({ status: 'succeeded', exitCode: 0 }),
      terminated: false,
      status: SCRIPT_STATUS.success,
      code: ATOMIC.done,
      exit: 0,
    },
    {
      name: 'non-zero exit',
      r: rec({ exitCode: 3 }),
      terminated: false,
      status: SCRIPT_STATUS.failed,
      code: ATOMIC.done,
      exit: 3,
    },
    {
      name: 'timed out',
      r: rec({ status: 'timedOut', exitCode: null, timedOut: true, killed: true }),
      terminated: false,
      status: SCRIPT_STATUS.timeout,
      code: ATOMIC.done,
      exit: 0,
    },
    {
      name: 'terminated',
      r: rec({ exitCode: null, signal: 'SIGKILL', killed: true }),
      terminated: true,
      status: SCRIPT_STATUS.discarded,
      code: ATOMIC.terminated,
      exit: 0,
    },
    {
      name: 'not connected',
      r: rec({ exitCode: null, stderrTail: 'host web-2 is not connected (not run)' }),
      terminated: false,
      status: SCRIPT_STATUS.failed,
      code: ATOMIC.agentAbnormal,
      exit: 0,
    },
    {
      name: 'an account the agent cannot switch to',
      r: rec({ exitCode: 127, stderrTail: 'gse-agent: refused to run: no user x' }),
      terminated: false,
      status: SCRIPT_STATUS.failed,
      code: ATOMIC.noUser,
      exit: 127,
    },
    {
      name: 'an agent not of this fleet',
      r: undefined,
      terminated: false,
      status: SCRIPT_STATUS.failed,
      code: ATOMIC.agentAbnormal,
      exit: 0,
    },
  ])('reads $name', ({ r, terminated, status, code, exit }) => {
    expect(scriptOutcome(r, terminated)).toMatchObject({ status, error_code: code, script_exit_code: exit });
  });
});

describe('async_execute_script and get_execute_script_result', () => {
  it('sends the atomic task to the hosts the agent ids name, and answers every agent in GSE codes', async () => {
    const port = await fakePort(HOSTS);
    const { result } = await executeScript(request(), ctx, port);
    expect(result.task_id).toMatch(/^GSETASK:S:/);
    expect(port.sent).toHaveLength(1);
    expect(port.sent[0]?.hostIds).toEqual(['web-1', 'web-2']);
    const msg = port.sent[0]?.messages[0] as ExecMessage;
    expect(msg).toMatchObject({
      type: 'exec',
      taskId: `${result.task_id}/0`,
      runAs: 'root',
      timeoutMs: 30_000,
    });
    expect(msg.script).toContain('bk_gse_script_a.sh');

    await port.finish(`${result.task_id}/0`, 'web-1', { stdoutTail: 'hello 中文\n' });
    const polled = await getExecuteScriptResult({ task_id: result.task_id }, port);
    expect(polled.result.map((r) => [r.bk_agent_id, r.status, r.error_code])).toEqual([
      ['web-1', SCRIPT_STATUS.success, ATOMIC.done],
      ['2:10.0.0.2', SCRIPT_STATUS.failed, ATOMIC.agentAbnormal],
      ['ghost', SCRIPT_STATUS.failed, ATOMIC.agentAbnormal],
    ]);
    expect(polled.result[0]).toMatchObject({
      screen: 'hello 中文\n',
      script_exit_code: 0,
      end_time: Date.UTC(2026, 0, 2, 3, 4, 6, 500),
    });

    const next = await getExecuteScriptResult(
      {
        task_id: result.task_id,
        agent_tasks: [{ bk_agent_id: 'web-1', atomic_tasks: [{ atomic_task_id: 0, offset: 6 }] }],
      },
      port,
    );
    expect(next.result).toHaveLength(1);
    expect(next.result[0]?.screen).toBe('中文\n');
  });

  it('sends an atomic task that waits for another once a poll sees it succeeded, and never after a failure', async () => {
    const port = await fakePort(HOSTS);
    const body = request({
      agents: [{ bk_agent_id: 'web-1', user: 'root' }],
      atomic_tasks: [
        { atomic_task_id: 0, command: '/tmp/job/bk_gse_script_a.sh' },
        { atomic_task_id: 1, command: 'echo vars' },
      ],
      atomic_tasks_relations: [{ atomic_task_id: 1, atomic_task_id_idx: [0] }],
    });
    const { result } = await executeScript(body, ctx, port);
    expect(port.sent.map((s) => s.task.taskId)).toEqual([`${result.task_id}/0`]);
    const first = await getExecuteScriptResult({ task_id: result.task_id }, port);
    expect(first.result.map((r) => r.status)).toEqual([SCRIPT_STATUS.running, SCRIPT_STATUS.running]);
    expect(port.sent).toHaveLength(1);
    await port.finish(`${result.task_id}/0`, 'web-1', {});
    await Promise.all([
      getExecuteScriptResult({ task_id: result.task_id }, port),
      getExecuteScriptResult({ task_id: result.task_id }, port),
    ]);
    expect(port.sent.map((s) => s.task.taskId)).toEqual([`${result.task_id}/0`, `${result.task_id}/1`]);

    const failing = await executeScript(body, ctx, port);
    await port.finish(`${failing.result.task_id}/0`, 'web-1', { status: 'failed', exitCode: 2 });
    const polled = await getExecuteScriptResult({ task_id: failing.result.task_id }, port);
    expect(polled.result[1]).toMatchObject({ status: SCRIPT_STATUS.failed });
    expect(port.sent.map((s) => s.task.taskId)).not.toContain(`${failing.result.task_id}/1`);
  });

  it('terminates: cancels on the named agents, and a killed record reads 126', async () => {
    const port = await fakePort(HOSTS);
    const { result } = await executeScript(request(), ctx, port);
    await terminateScript({ task_id: result.task_id, agents: [{ bk_agent_id: 'web-1' }] }, port);
    expect(port.cancelled).toEqual([{ taskId: `${result.task_id}/0`, hostIds: ['web-1'] }]);
    await port.finish(`${result.task_id}/0`, 'web-1', {
      status: 'failed',
      exitCode: null,
      signal: 'SIGKILL',
      killed: true,
    });
    const polled = await getExecuteScriptResult({ task_id: result.task_id }, port);
    expect(polled.result[0]).toMatchObject({
      status: SCRIPT_STATUS.discarded,
      error_code: ATOMIC.terminated,
    });
    // Only the agents named were terminated: another killed record is a failure, not 126.
    const other = await executeScript(request({ agents: [{ bk_agent_id: 'web-1' }] }), ctx, port);
    await terminateScript({ task_id: other.result.task_id, agents: [{ bk_agent_id: 'web-9' }] }, port);
    await port.finish(`${other.result.task_id}/0`, 'web-1', {
      status: 'failed',
      exitCode: null,
      killed: true,
    });
    const notNamed = await getExecuteScriptResult({ task_id: other.result.task_id }, port);
    expect(notNamed.result[0]).toMatchObject({ status: SCRIPT_STATUS.failed, error_code: ATOMIC.done });
  });

  it.each([
    {
      name: 'no atomic task',
      body: request({ atomic_tasks: [] }),
      error: 'atomic_tasks: must list at least one item',
    },
    {
      name: 'a command that is not a string',
      body: request({ atomic_tasks: [{ command: 3 }] }),
      error: 'atomic_tasks[0].command: must be a string',
    },
    {
      name: "a timeout over GSE's largest",
      body: request({ atomic_tasks: [{ command: 'x', timeout_seconds: 259201 }] }),
      error: 'atomic_tasks[0].timeout_seconds: must be 1 to 259200',
    },
    {
      name: 'a script name that is a path',
      body: request({ scripts: [{ script_name: '../x', script_content: '' }] }),
      error: 'scripts[0].script_name: "../x" must be a file name',
    },
    { name: 'no agents', body: request({ agents: [] }), error: 'agents: must list at least one item' },
    {
      name: 'a relation to a missing task',
      body: request({ atomic_tasks_relations: [{ atomic_task_id: 0, atomic_task_id_idx: [5] }] }),
      error: 'atomic task 0 waits for 5',
    },
  ])('refuses $name, naming the field', async ({ body, error }) => {
    const port = await fakePort(HOSTS);
    const err = await gseError(executeScript(body, ctx, port));
    expect(err.gseCode).toBe(GSE_BAD_REQUEST);
    expect(err.message).toContain(error);
    expect(port.sent).toEqual([]);
  });

  it('answers a task id it never issued (or of another kind) with GSE_TASK_NOT_FOUND', async () => {
    const port = await fakePort(HOSTS);
    expect((await gseError(getExecuteScriptResult({ task_id: 'GSETASK:S:x' }, port))).gseCode).toBe(
      GSE_TASK_NOT_FOUND,
    );
    expect((await gseError(terminateScript({ task_id: 'GSETASK:S:x' }, port))).gseCode).toBe(
      GSE_TASK_NOT_FOUND,
    );
  });
});
