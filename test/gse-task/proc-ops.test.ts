/**
 * bk-nodeman's process operations over a fake port: what runs on the agent, what becomes desired state (and
 * in which order), the per-instance keys nodeman reads, 1000115 while queued, and refusals.
 */
import { describe, expect, it } from 'vitest';
import { GSE_BAD_REQUEST, GSE_TASK_QUEUED, GseError, PROC_CODE } from '../../src/gse-task/errors.js';
import { getProcOperateResult, OP_TYPE, operateProc, operateProcMulti } from '../../src/gse-task/proc-ops.js';
import type { HostManifest, ManifestProcessWatch } from '../../src/protocol/manifest.js';
import type { ProcOpMessage } from '../../src/protocol/messages.js';
import { fakePort } from './fake-port.js';

const HOSTS = [
  { hostId: 'node-1', ips: ['10.0.0.1'], cloudId: 0, alive: true },
  { hostId: 'node-2', ips: ['10.0.0.2'], cloudId: 0, alive: false },
];
const watch = (name: string, extra: Partial<ManifestProcessWatch> = {}): ManifestProcessWatch => ({
  kind: 'ProcessWatch',
  name,
  hash: `h-${name}`,
  process: { name },
  ensure: 'running',
  start: `start-${name}`,
  probeIntervalMs: 1000,
  ...extra,
});
const manifest = (hostId: string, items: ManifestProcessWatch[]): HostManifest => ({
  hostId,
  revision: 'r1',
  labels: {},
  items,
  hash: 'm',
});
const MANIFESTS = {
  'node-1': manifest('node-1', [watch('bkmonitorbeat'), watch('nostart', { start: undefined })]),
  'node-2': manifest('node-2', [watch('bkmonitorbeat')]),
};
const ctx = { caller: 'nodeman' };
const item = (opType: number, extra: Record<string, unknown> = {}) => ({
  meta: { namespace: 'nodeman', name: 'bkmonitorbeat', labels: { proc_name: 'bkmonitorbeat' } },
  op_type: opType,
  agent_id_list: ['node-1'],
  spec: { control: { reload_cmd: './reload.sh' }, alive_monitor_policy: { auto_type: 1, op_timeout: 20 } },
  ...extra,
});

async function gseError(p: Promise<unknown>): Promise<GseError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GseError);
  return err as GseError;
}

describe('operate_proc_multi', () => {
  it('holds a stop as desired state before the stop is sent, and answers 1000115 until it finishes', async () => {
    const port = await fakePort(HOSTS, MANIFESTS);
    const { task_id } = await operateProcMulti({ proc_operate_req: [item(OP_TYPE.stop)] }, ctx, port);
    expect(task_id).toMatch(/^GSETASK:P:/);
    expect(port.calls).toEqual(['override:stop', 'send:procOp:ProcessWatch/bkmonitorbeat']);
    expect(port.overrides.forHost('node-1')).toMatchObject([
      { name: 'bkmonitorbeat', ensure: 'observed', by: 'nodeman' },
    ]);
    expect(port.sent[0]?.messages[0]).toMatchObject({
      type: 'procOp',
      watch: 'bkmonitorbeat',
      op: 'stop',
      timeoutMs: 20_000,
    });

    expect((await gseError(getProcOperateResult({ task_id }, port))).gseCode).toBe(GSE_TASK_QUEUED);
    await port.finish(`${task_id}/0`, 'node-1', { stdoutTail: 'sent SIGTERM to 42' });
    const data = await getProcOperateResult({ task_id }, port);
    expect(data).toEqual({
      'node-1:nodeman:bkmonitorbeat': {
        error_code: PROC_CODE.success,
        error_msg: 'sent SIGTERM to 42',
        content: expect.stringContaining('"procName":"bkmonitorbeat"'),
      },
    });
  });

  it('releases a stop once a start succeeded, at the poll that sees it', async () => {
    const port = await fakePort(HOSTS, MANIFESTS);
    await operateProcMulti({ proc_operate_req: [item(OP_TYPE.stop)] }, ctx, port);
    const { task_id } = await operateProcMulti({ proc_operate_req: [item(OP_TYPE.start)] }, ctx, port);
    expect(port.overrides.forHost('node-1')).toHaveLength(1);
    await port.finish(`${task_id}/0`, 'node-1', {});
    await getProcOperateResult({ task_id }, port);
    expect(port.overrides.forHost('node-1')).toEqual([]);
  });

  it('sets delegate and undelegate as desired state at once, and keeps a delegate through a start', async () => {
    const port = await fakePort(HOSTS, MANIFESTS);
    const delegated = await operateProcMulti({ proc_operate_req: [item(OP_TYPE.delegate)] }, ctx, port);
    expect(port.sent).toEqual([]);
    expect(port.overrides.forHost('node-1')).toMatchObject([{ ensure: 'running', op: 'delegate' }]);
    expect(await getProcOperateResult({ task_id: delegated.task_id }, port)).toMatchObject({
      'node-1:nodeman:bkmonitorbeat': { error_code: 0 },
    });
    const started = await operateProcMulti({ proc_operate_req: [item(OP_TYPE.start)] }, ctx, port);
    await port.finish(`${started.task_id}/0`, 'node-1', {});
    await getProcOperateResult({ task_id: started.task_id }, port);
    expect(port.overrides.forHost('node-1')).toMatchObject([{ ensure: 'running', op: 'delegate' }]);
    await operateProcMulti({ proc_operate_req: [item(OP_TYPE.undelegate)] }, ctx, port);
    expect(port.overrides.forHost('node-1')).toMatchObject([{ ensure: 'observed', op: 'undelegate' }]);
  });

  it('answers every instance: unknown op types, unknown watches, unknown and offline agents, status', async () => {
    const port = await fakePort(HOSTS, MANIFESTS);
    const { task_id } = await operateProcMulti(
      {
        proc_operate_req: [
          item(5),
          item(OP_TYPE.restart, { meta: { namespace: 'nodeman', name: 'nope' } }),
          item(OP_TYPE.delegate, { meta: { namespace: 'nodeman', name: 'nostart' } }),
          item(OP_TYPE.reload, { agent_id_list: ['ghost', 'node-2'] }),
          item(OP_TYPE.status),
        ],
      },
      ctx,
      port,
    );
    expect(port.sent.map((s) => (s.messages[0] as ProcOpMessage | undefined)?.command)).toEqual([undefined]);
    const data = await getProcOperateResult({ task_id }, port);
    expect(Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.error_code]))).toEqual({
      'node-1:nodeman:bkmonitorbeat': PROC_CODE.success,
      'node-1:nodeman:nope': PROC_CODE.failed,
      'node-1:nodeman:nostart': PROC_CODE.failed,
      'ghost:nodeman:bkmonitorbeat': PROC_CODE.agentAbnormal,
      'node-2:nodeman:bkmonitorbeat': PROC_CODE.agentAbnormal,
    });
    // Keys repeat across items of one call: the last item (STATUS) holds the node-1 key.
    expect(JSON.parse(data['node-1:nodeman:bkmonitorbeat']?.content ?? '')).toMatchObject({
      process: [{ procname: 'bkmonitorbeat', instance: [{ pid: 42, isAuto: true }] }],
    });
    expect(data['node-1:nodeman:nope']?.error_msg).toContain('no ProcessWatch named nope');
  });

  it('keys GSE 1.0 hosts as cloud:ip, and with the supplier for the legacy result call', async () => {
    const port = await fakePort(HOSTS, MANIFESTS);
    const { task_id } = await operateProc(
      {
        ...item(OP_TYPE.reload),
        agent_id_list: undefined,
        hosts: [{ ip: '10.0.0.1', bk_cloud_id: 0, bk_supplier_id: 0 }],
      },
      ctx,
      port,
    );
    expect(port.sent[0]?.messages[0]).toMatchObject({ op: 'reload', command: './reload.sh' });
    await port.finish(`${task_id}/0`, 'node-1', {});
    expect(Object.keys(await getProcOperateResult({ task_id }, port))).toEqual([
      '0:10.0.0.1:nodeman:bkmonitorbeat',
    ]);
    expect(Object.keys(await getProcOperateResult({ task_id }, port, true))).toEqual([
      '0:0:10.0.0.1:nodeman:bkmonitorbeat',
    ]);
  });

  it.each([
    {
      name: 'no items',
      body: { proc_operate_req: [] },
      error: 'proc_operate_req: must list at least one item',
    },
    {
      name: 'no meta.name',
      body: { proc_operate_req: [{ meta: {}, op_type: 0, agent_id_list: ['node-1'] }] },
      error: 'proc_operate_req[0].meta.name',
    },
    {
      name: 'no targets',
      body: { proc_operate_req: [{ meta: { name: 'x' }, op_type: 0 }] },
      error: 'needs agent_id_list (GSE 2.0) or hosts (GSE 1.0)',
    },
    {
      name: 'a non-integer op_type',
      body: { proc_operate_req: [item(Number.NaN)] },
      error: 'proc_operate_req[0].op_type: must be an integer',
    },
  ])('refuses $name, naming the field, and changes nothing', async ({ body, error }) => {
    const port = await fakePort(HOSTS, MANIFESTS);
    const err = await gseError(operateProcMulti(body, ctx, port));
    expect(err.gseCode).toBe(GSE_BAD_REQUEST);
    expect(err.message).toContain(error);
    expect(port.calls).toEqual([]);
  });
});
