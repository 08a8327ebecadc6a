/**
 * The GSE task and process routes over the in-memory API port and a fake GseTaskPort: roles (submits need
 * operator, polls viewer), GSE's envelope for answers and refusals, the audit record of a submit.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiPort } from '../../src/api/port.js';
import { GSE_TASK_NOT_FOUND } from '../../src/gse-task/errors.js';
import { fakePort } from '../gse-task/fake-port.js';
import { ADMIN, MemoryPort, type ServedApi, serveApi, VIEWER } from './memory-port.js';

const SUBMIT = {
  agents: [{ bk_agent_id: 'web-1', user: 'root' }],
  scripts: [{ script_name: 'bk_gse_script_a.sh', script_store_dir: '/tmp', script_content: 'echo hi' }],
  atomic_tasks: [{ atomic_task_id: 0, command: '/tmp/bk_gse_script_a.sh' }],
};

describe('GSE task routes', () => {
  let port: MemoryPort;
  let api: ServedApi;

  beforeEach(async () => {
    port = new MemoryPort();
    (port as { gseTasks?: ApiPort['gseTasks'] }).gseTasks = await fakePort([
      { hostId: 'web-1', ips: ['10.0.0.1'], cloudId: 0, alive: true },
    ]);
    api = await serveApi(port);
  });
  afterEach(() => api.close());

  it('lets an operator submit (audited with the task id) and a viewer poll, in GSE envelopes', async () => {
    const denied = await api.call('/api/v1/gse/async_execute_script', { token: VIEWER, body: SUBMIT });
    expect(denied.status).toBe(403);

    const res = await api.call('/api/v1/gse/async_execute_script', { token: ADMIN, body: SUBMIT });
    const body = (await res.json()) as {
      result: boolean;
      code: number;
      data: { result: { task_id: string } };
    };
    expect(body).toMatchObject({ result: true, code: 0 });
    const taskId = body.data.result.task_id;
    expect(port.auditRecords.at(-1)).toMatchObject({
      action: 'POST /api/v1/gse/async_execute_script',
      status: 200,
      detail: { action: 'async_execute_script', task_id: taskId },
    });

    const polled = await api.call('/api/v1/gse/get_execute_script_result', {
      token: VIEWER,
      body: { task_id: taskId },
    });
    expect(polled.status).toBe(200);
    expect(await polled.json()).toMatchObject({
      result: true,
      data: { result: [{ bk_agent_id: 'web-1', status: 1, error_code: 115 }] },
    });
  });

  it('answers refusals in the envelope with GSE codes and HTTP 200', async () => {
    const unknown = await api.call('/api/v1/gse/get_proc_operate_result_v2', {
      token: VIEWER,
      body: { task_id: 'x' },
    });
    expect(unknown.status).toBe(200);
    expect(await unknown.json()).toMatchObject({ result: false, code: GSE_TASK_NOT_FOUND, data: null });
    const bad = await api.call('/api/v1/gse/operate_proc_multi', {
      token: ADMIN,
      body: { proc_operate_req: 'x' },
    });
    expect(await bad.json()).toMatchObject({ result: false, message: 'proc_operate_req: must be a list' });
    expect(port.auditRecords.at(-1)).toMatchObject({
      detail: { action: 'operate_proc_multi', refused: 'proc_operate_req: must be a list' },
    });
  });

  it('says the calls are off when the controller gives no task port', async () => {
    (port as { gseTasks?: ApiPort['gseTasks'] }).gseTasks = undefined;
    const res = await api.call('/api/v1/gse/async_transfer_file', { token: ADMIN, body: {} });
    expect(await res.json()).toMatchObject({
      result: false,
      message: expect.stringContaining('not available'),
    });
  });
});
