/** ExecService on the in-memory store with a recording hub: fan-out, result recording and refusals. */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  ExecService,
  type HostTaskMessage,
  ManifestNotKnownError,
} from '../../src/controller/exec-service.js';
import type { HostFacts, HostManifest } from '../../src/protocol/manifest.js';
import type {
  CancelMessage,
  ErrorMessage,
  ExecMessage,
  ExecResultMessage,
} from '../../src/protocol/messages.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { ExecutionRecord } from '../../src/store/types.js';
import { idleMetrics } from '../helpers/controller-fixtures.js';

const T0_MS = Date.parse('2026-01-01T00:00:00.000Z');
const web1: HostFacts = { id: 'h1', name: 'web-1', ips: ['10.0.0.1'], cloudId: 0, labels: { role: 'web' } };
const web2: HostFacts = { id: 'h2', name: 'web-2', ips: ['10.0.0.2'], cloudId: 0, labels: { role: 'web' } };
const db1: HostFacts = { id: 'h3', name: 'db-1', ips: ['10.0.0.3'], cloudId: 0, labels: { role: 'db' } };
const metrics = idleMetrics();

// Only the fields resultRefusal reads: an item's kind, name and onChange.
const manifestWithOnChange = {
  hash: 'sha256:m',
  revision: 'rev-1',
  items: [{ kind: 'ConfigFile', name: 'motd', onChange: { run: 'true', timeoutMs: 1_000 } }],
} as unknown as HostManifest;

function result(taskId: string, over: Partial<ExecResultMessage> = {}): ExecResultMessage {
  return {
    v: 1,
    type: 'execResult',
    id: `r-${taskId}`,
    taskId,
    reason: 'adhoc',
    exitCode: 0,
    signal: null,
    stdoutTail: 'ok\n',
    stderrTail: '',
    startedAt: '2026-01-01T00:00:01.000Z',
    durationMs: 250,
    timedOut: false,
    killed: false,
    ...over,
  };
}

describe('ExecService', () => {
  let store: MemoryStore;
  let sent: Array<{ to: string; msg: ExecMessage | ErrorMessage | CancelMessage | HostTaskMessage }>;
  let refuse: Set<string>;
  let manifests: Map<string, HostManifest>;
  let service: ExecService;

  beforeEach(() => {
    store = MemoryStore.open();
    sent = [];
    refuse = new Set();
    manifests = new Map();
    let n = 0;
    service = new ExecService({
      store,
      hub: {
        send(to, msg) {
          if (refuse.has(to)) return false;
          sent.push({ to, msg });
          return true;
        },
      },
      manifestOf: (id) => manifests.get(id),
      connectedHosts: () => [web1, web2, db1],
      metrics,
      now: () => T0_MS,
      newId: () => `id-${++n}`,
    });
  });

  it('sends the script to the connected hosts the selector picks and records each as running', async () => {
    const started = await service.start({
      selector: { matchLabels: { role: 'web' } },
      script: 'uname -a',
      requestedBy: 'alice',
    });
    expect(started.hosts).toEqual(['h1', 'h2']);
    expect(sent.map((s) => s.to)).toEqual(['h1', 'h2']);
    expect(sent[0]?.msg).toMatchObject({
      type: 'exec',
      taskId: started.taskId,
      reason: 'adhoc',
      timeoutMs: 60_000,
    });
    const rec = await store.getExecution(started.taskId, 'h1');
    expect(rec).toMatchObject({ status: 'running', command: 'uname -a', requestedBy: 'alice' });
    expect(await store.getExecution(started.taskId, 'h3')).toBeUndefined();
  });

  it('leaves out of `hosts` a host whose session refused the task, though it is recorded', async () => {
    refuse.add('h2');
    const started = await service.start({
      selector: { matchLabels: { role: 'web' } },
      script: 'x',
      requestedBy: 'a',
    });
    expect(started.hosts).toEqual(['h1']);
    expect(await store.getExecution(started.taskId, 'h2')).toMatchObject({ status: 'running' });
  });

  it('stores a result of a task sent to the host, tells the listeners, and calls a re-send a duplicate', async () => {
    const { taskId } = await service.start({
      selector: { names: ['web-1'] },
      script: 'uptime',
      requestedBy: 'a',
    });
    const heard: ExecutionRecord[] = [];
    const stop = service.subscribe(taskId, (r) => heard.push(r));
    const msg = result(taskId, { exitCode: 3 });
    expect(await service.recordResult('h1', msg)).toBe('stored');
    expect(heard.map((r) => [r.hostId, r.status, r.command])).toEqual([['h1', 'failed', 'uptime']]);
    expect(await store.getExecution(taskId, 'h1')).toMatchObject({
      status: 'failed',
      exitCode: 3,
      finishedAt: '2026-01-01T00:00:01.250Z',
      requestedBy: 'a',
    });
    expect(await service.recordResult('h1', msg)).toBe('duplicate');
    stop();
    expect(heard).toHaveLength(1);
  });

  it('refuses a different second result and answers the agent with result_refused', async () => {
    const { taskId } = await service.start({ selector: { names: ['web-1'] }, script: 'x', requestedBy: 'a' });
    await service.recordResult('h1', result(taskId));
    sent.length = 0;
    expect(await service.recordResult('h1', result(taskId, { exitCode: 1, id: 'again' }))).toBe('refused');
    expect(sent).toEqual([
      { to: 'h1', msg: expect.objectContaining({ type: 'error', code: 'result_refused', ref: 'again' }) },
    ]);
    expect(await store.getExecution(taskId, 'h1')).toMatchObject({ status: 'succeeded', exitCode: 0 });
  });

  it('refuses a result for a task never sent to that host', async () => {
    const { taskId } = await service.start({ selector: { names: ['web-1'] }, script: 'x', requestedBy: 'a' });
    expect(await service.recordResult('h2', result(taskId))).toBe('refused');
    expect(await store.getExecution(taskId, 'h2')).toBeUndefined();
  });

  it('records an onChange result the manifest holds, timed out as timedOut, with its resource', async () => {
    manifests.set('h1', manifestWithOnChange);
    const msg = result('onChange:ConfigFile/motd@abc', {
      reason: 'onChange:ConfigFile/motd',
      timedOut: true,
    });
    expect(await service.recordResult('h1', msg)).toBe('stored');
    expect(await store.getExecution(msg.taskId, 'h1')).toMatchObject({
      status: 'timedOut',
      resource: 'ConfigFile/motd',
      command: 'onChange:ConfigFile/motd',
    });
  });

  it('refuses an onChange result for a resource the manifest lacks, and throws while no manifest is known', async () => {
    manifests.set('h1', manifestWithOnChange);
    const other = result('onChange:ConfigFile/other@1', { reason: 'onChange:ConfigFile/other' });
    expect(await service.recordResult('h1', other)).toBe('refused');
    await expect(service.recordResult('h2', other)).rejects.toBeInstanceOf(ManifestNotKnownError);
  });
  it('stores the results of one turn in one store write', async () => {
    const { taskId } = await service.start({
      selector: { matchLabels: { role: 'web' } },
      script: 'x',
      requestedBy: 'a',
    });
    const writes: number[] = [];
    const putExecutions = store.putExecutions.bind(store);
    store.putExecutions = async (records) => {
      writes.push(records.length);
      await putExecutions(records);
    };
    const outcomes = await Promise.all([
      service.recordResult('h1', result(taskId)),
      service.recordResult('h2', result(taskId, { exitCode: 2 })),
    ]);
    expect(outcomes).toEqual(['stored', 'stored']);
    expect(writes).toEqual([2]);
    expect(await store.getExecution(taskId, 'h2')).toMatchObject({ status: 'failed', exitCode: 2 });
  });

  it('checks a second result for the same host against the first when both arrive in one turn', async () => {
    const { taskId } = await service.start({ selector: { names: ['web-1'] }, script: 'x', requestedBy: 'a' });
    const heard: ExecutionRecord[] = [];
    service.subscribe(taskId, (r) => heard.push(r));
    const first = result(taskId);
    const outcomes = await Promise.all([
      service.recordResult('h1', first),
      service.recordResult('h1', first),
      service.recordResult('h1', result(taskId, { exitCode: 1, id: 'other' })),
    ]);
    expect(outcomes).toEqual(['stored', 'duplicate', 'refused']);
    expect(heard).toHaveLength(1);
    expect(await store.getExecution(taskId, 'h1')).toMatchObject({ status: 'succeeded', exitCode: 0 });
  });

  describe('remediation decisions', () => {
    const chain = {
      name: 'restart',
      itemHash: 'a'.repeat(64),
      revision: 'rev-1',
      event: { type: 'process.down', time: '2026-01-01T00:00:00.000Z', fields: { process: 'svc' } },
    };
    const remediationManifest = {
      hash: 'sha256:m',
      revision: 'rev-1',
      items: [{ kind: 'Remediation', name: 'restart' }],
    } as unknown as HostManifest;
    const reason = 'remediation:Remediation/restart';

    it('stores a skip as status skipped with its chain', async () => {
      manifests.set('h1', remediationManifest);
      const msg = result(`${reason}@t1@`, {
        reason,
        exitCode: null,
        stdoutTail: '',
        remediation: { ...chain, decision: 'cooldown', detail: 'in cooldown' },
      });
      expect(await service.recordResult('h1', msg)).toBe('stored');
      const rec = await store.getExecution(msg.taskId, 'h1');
      expect(rec).toMatchObject({ status: 'skipped', resource: 'Remediation/restart' });
      expect(rec?.remediation).toMatchObject({ decision: 'cooldown', event: { type: 'process.down' } });
    });

    it('runs a controller-decided remediation on a runner and keeps the chain when its result arrives', async () => {
      const taskId = `${reason}@h9@2026-01-01T00:00:00.000Z`;
      const task = {
        taskId,
        reason,
        script: 'echo $GSE_LOST_HOST',
        timeoutMs: 1_000,
        env: { GSE_LOST_HOST: 'web-9' },
        remediation: { ...chain, decision: 'ran' as const },
      };
      expect(await service.runRemediation('h2', task)).toBe(true);
      expect(sent[0]).toMatchObject({
        to: 'h2',
        msg: { type: 'exec', taskId, reason, env: { GSE_LOST_HOST: 'web-9' } },
      });
      // The runner's manifest holds no such Remediation: the running record vouches for the result.
      expect(await service.recordResult('h2', result(taskId, { reason }))).toBe('stored');
      const rec = await store.getExecution(taskId, 'h2');
      expect(rec).toMatchObject({ status: 'succeeded', command: 'echo $GSE_LOST_HOST' });
      expect(rec?.remediation?.decision).toBe('ran');
    });

    it('records a runner that is not connected as failed, not run', async () => {
      refuse.add('h2');
      const taskId = `${reason}@h9@x`;
      const ok = await service.runRemediation('h2', {
        taskId,
        reason,
        script: 'true',
        timeoutMs: 1_000,
        env: {},
        remediation: { ...chain, decision: 'ran' },
      });
      expect(ok).toBe(false);
      expect(await store.getExecution(taskId, 'h2')).toMatchObject({ status: 'failed' });
    });
  });

  describe('tasks for named hosts (GSE calls)', () => {
    const task = (taskId: string, reason = 'transfer') => ({
      taskId,
      reason,
      command: 'transfer a -> /etc/a',
      requestedBy: 'bk-job',
      message: (_host: string, id: string) =>
        ({ v: 1, type: 'putFile', id, taskId, reason, path: '/etc/a', content: '', mkdir: true }) as const,
    });

    it('stores running rows before sending, and a failed row for each host not connected', async () => {
      refuse.add('h2');
      const started = await service.startOnHosts(['h1', 'h2', 'h9', 'h1'], task('T/0'));
      expect(started).toEqual({ taskId: 'T/0', hosts: ['h1'], offline: ['h2', 'h9'] });
      expect(sent.map((s) => [s.to, s.msg.type])).toEqual([['h1', 'putFile']]);
      expect(await store.getExecution('T/0', 'h1')).toMatchObject({
        status: 'running',
        reason: 'transfer',
        requestedBy: 'bk-job',
      });
      expect(await store.getExecution('T/0', 'h9')).toMatchObject({
        status: 'failed',
        exitCode: null,
        killed: false,
      });
      expect((await store.getExecution('T/0', 'h2'))?.stderrTail).toContain('not connected');
      // The agent answers under the task's reason; the running row vouches for it.
      expect(await service.recordResult('h1', result('T/0', { reason: 'transfer' }))).toBe('stored');
    });

    it('names a procOp record by its ProcessWatch and cancels on the hosts asked', async () => {
      await service.startOnHosts(['h1'], task('P/0', 'procOp:ProcessWatch/svc'));
      expect(await store.getExecution('P/0', 'h1')).toMatchObject({ resource: 'ProcessWatch/svc' });
      expect(service.cancel('P/0', ['h1', 'h3'])).toEqual(['h1', 'h3']);
      expect(sent.slice(1).map((s) => [s.to, s.msg])).toEqual([
        ['h1', { v: 1, type: 'cancel', id: expect.any(String), taskId: 'P/0' }],
        ['h3', { v: 1, type: 'cancel', id: expect.any(String), taskId: 'P/0' }],
      ]);
    });

    it("accepts an agent's interrupted report of such a task, keeping the task's reason", async () => {
      await service.startOnHosts(['h1'], task('T/1'));
      const interrupted = result('T/1', { reason: 'adhoc', exitCode: null, killed: true, stdoutTail: '' });
      expect(await service.recordResult('h1', interrupted)).toBe('stored');
      expect(await store.getExecution('T/1', 'h1')).toMatchObject({
        reason: 'transfer',
        status: 'failed',
        killed: true,
      });
      // Anything else under another reason is still refused.
      await service.startOnHosts(['h1'], task('T/2'));
      expect(await service.recordResult('h1', result('T/2', { reason: 'adhoc' }))).toBe('refused');
    });
  });
});
