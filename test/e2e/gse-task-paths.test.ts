/**
 * GSE.md's task and process requests replayed on GSE's own paths against a real controller and a real
 * agent: bk-job's `/api/v2/task/extensions/...` with the gateway's X-Bkapi-Authorization, the older
 * `/api/v2/task/...` family, bk-nodeman's `/api/v2/proc/...` and the ESB form `/api/c/compapi/v2/gse/...`
 * with bk_app_code/bk_app_secret in the body. Every answer is GSE's envelope with a request_id; a viewer app
 * may poll but not submit.
 */
import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { httpCall, type RunningController, startController, waitFor } from '../helpers/controller.js';
import { waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const HOST = 'paths-1';
const HOST_IP = '10.77.0.21';
const USER = userInfo().username;
const WATCH = `apiVersion: gse/v1
kind: ProcessWatch
metadata: { name: paths-svc }
spec:
  process: { cmdline: "^no-such-process-${process.pid}$" }
  hosts: { names: ["*"] }
  ensure: observed
`;

interface Envelope<T> {
  result: boolean;
  code: number;
  message: string;
  data: T;
  request_id: string;
}

describe('GSE task and process calls on GSE paths', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let agent: AgentProcess;
  let jobSecret: string;
  let viewerSecret: string;

  /** POST `path` as the BlueKing tools do: credentials in X-Bkapi-Authorization (`gateway`) or the body. */
  async function gse<T>(
    path: string,
    body: Record<string, unknown>,
    creds: { app: string; secret: string; gateway: boolean },
  ): Promise<{ status: number; body: Envelope<T>; header: string | undefined }> {
    const auth = { bk_app_code: creds.app, bk_app_secret: creds.secret, bk_username: 'alice' };
    const res = await httpCall(`${ctl.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(creds.gateway ? { 'x-bkapi-authorization': JSON.stringify(auth) } : {}),
      },
      body: JSON.stringify(creds.gateway ? body : { ...auth, ...body }),
      ...(ctl.ca ? { ca: ctl.ca } : {}),
    });
    const header = res.headers['x-bkapi-request-id'];
    return {
      status: res.status,
      body: JSON.parse(res.text) as Envelope<T>,
      header: Array.isArray(header) ? header[0] : header,
    };
  }

  const job = (gateway: boolean) => ({ app: 'bk_job', secret: jobSecret, gateway });

  beforeAll(async () => {
    repo = await gitRepo({ 'watch.yaml': WATCH });
    ctl = await startController(repo.dir);
    agent = await startAgentProcess({ controllerUrl: ctl.agentUrl, name: HOST, ip: HOST_IP });
    await waitSynced(ctl, [HOST], await repo.head());
    const made = await ctl.api<{ token: string }>('/api/v1/tokens', {
      body: { name: 'bk-job', role: 'operator', appCode: 'bk_job' },
    });
    jobSecret = made.body.token;
    const viewer = await ctl.api<{ token: string }>('/api/v1/tokens', {
      body: { name: 'bk-view', role: 'viewer', appCode: 'bk_view' },
    });
    viewerSecret = viewer.body.token;
  });
  afterAll(async () => {
    await agent?.cleanup();
    await ctl?.cleanup();
    await repo?.cleanup();
  });

  it("runs bk-job's script calls under /api/v2/task/extensions/ and polls them through ESB", async () => {
    const submitted = await gse<{ result: { task_id: string } }>(
      '/api/v2/task/extensions/async_execute_script',
      {
        agents: [{ bk_agent_id: HOST, bk_container_id: '', user: USER, pwd: '' }],
        scripts: [
          {
            script_name: 'bk_gse_script_p.sh',
            script_store_dir: '/tmp/bkjob',
            script_content: 'echo via v2',
          },
        ],
        atomic_tasks: [{ atomic_task_id: 0, command: '/tmp/bkjob/bk_gse_script_p.sh', timeout_seconds: 60 }],
        atomic_tasks_relations: [],
      },
      job(true),
    );
    expect(submitted.status).toBe(200);
    expect(submitted.body).toMatchObject({ result: true, code: 0 });
    expect(submitted.body.request_id).toMatch(/^[0-9a-f]{32}$/);
    expect(submitted.header).toBe(submitted.body.request_id);
    const taskId = submitted.body.data.result.task_id;

    const done = await waitFor('the script finished', async () => {
      const res = await gse<{ result: Array<{ status: number; screen: string; script_exit_code: number }> }>(
        '/api/c/compapi/v2/gse/get_execute_script_result/',
        { task_id: taskId },
        job(false),
      );
      expect(res.body.result).toBe(true);
      const entry = res.body.data.result[0];
      return entry && entry.status > 1 ? entry : undefined;
    });
    expect(done).toMatchObject({ status: 2, screen: 'via v2\n', script_exit_code: 0 });

    // The audit line names the app's token, the user and the task.
    const audit = await ctl.api<{ items: Array<{ actor: string; action: string; detail: unknown }> }>(
      '/api/v1/audit?limit=50',
    );
    expect(audit.body.items).toContainEqual(
      expect.objectContaining({
        actor: 'bk-job',
        action: 'POST /api/v2/task/extensions/async_execute_script',
        detail: expect.objectContaining({ bk_username: 'alice', task_id: taskId }),
      }),
    );
  });

  it('serves the older /api/v2/task/ family and refuses a viewer app a submit', async () => {
    const body = {
      agents: [{ bk_agent_id: `0:${HOST_IP}`, user: USER }],
      scripts: [
        { script_name: 'bk_gse_script_o.sh', script_store_dir: '/tmp/bkjob', script_content: 'exit 0' },
      ],
      atomic_tasks: [{ atomic_task_id: 0, command: '/tmp/bkjob/bk_gse_script_o.sh' }],
    };
    const refused = await gse('/api/v2/task/async_execute_script/', body, {
      app: 'bk_view',
      secret: viewerSecret,
      gateway: true,
    });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ result: false, code: 1000403 });

    const submitted = await gse<{ result: { task_id: string } }>(
      '/api/v2/task/async_execute_script/',
      body,
      job(false),
    );
    expect(submitted.body.result).toBe(true);
    const polled = await gse<{ result: unknown[] }>(
      '/api/v2/task/get_execute_script_result',
      { task_id: submitted.body.data.result.task_id },
      { app: 'bk_view', secret: viewerSecret, gateway: true },
    );
    expect(polled.body).toMatchObject({ result: true, code: 0 });
    expect(polled.body.data.result).toHaveLength(1);
  });

  it("answers bk-nodeman's process calls under /api/v2/proc/ and the ESB legacy result", async () => {
    const op = await gse<{ task_id: string }>(
      '/api/v2/proc/operate_proc_multi/',
      {
        proc_operate_req: [
          {
            meta: { namespace: 'nodeman', name: 'paths-svc', labels: { proc_name: 'paths-svc' } },
            op_type: 2,
            agent_id_list: [`0:${HOST_IP}`],
            spec: { identity: { proc_name: 'paths-svc' } },
          },
        ],
      },
      job(true),
    );
    expect(op.body).toMatchObject({ result: true, code: 0 });
    const taskId = op.body.data.task_id;
    expect(taskId).toMatch(/^GSETASK:P:/);

    const result = await waitFor('the status operation answered', async () => {
      const res = await gse<Record<string, { error_code: number; content: string }>>(
        '/api/v2/proc/get_proc_operate_result_v2/',
        { task_id: taskId },
        job(true),
      );
      return res.body.result ? res.body.data : undefined;
    });
    expect(result[`0:${HOST_IP}:nodeman:paths-svc`]).toMatchObject({ error_code: 0 });

    const legacy = await gse<Record<string, unknown>>(
      '/api/c/compapi/v2/gse/get_proc_operate_result/',
      { task_id: taskId },
      job(false),
    );
    expect(legacy.body).toMatchObject({ result: true, code: 0 });
    expect(legacy.body.request_id).toMatch(/^[0-9a-f]{32}$/);
  });
});
