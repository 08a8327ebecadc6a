/**
 * GSE contract over real parts: a real controller on a real git repo, two real agent processes, records
 * pushed with `gse-agent push`. BlueKing requests (GSE.md §2, §3.6, §4) are replayed as the tools send them
 * (ESB body credentials, the gateway's X-Bkapi-Authorization header) against a named token with an app code;
 * host events leave a `format: gse` Route in the shapes bk-monitor reads (§5): flat disk.full fields, a
 * pushed process restart on the 1100008 data-id Route, the agent-lost alarm once per outage. Needs
 * `npm run build`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATUS_OFFLINE } from '../../src/api/gse/status.js';
import { AGENT_MAIN, type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { httpCall, type RunningController, startController, waitFor } from '../helpers/controller.js';
import { waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const OPS_IP = '10.66.0.1';
const WEB_IP = '10.66.0.2';
const WEB_GSE_ID = '0100005254008ed86116666614661851';
/** Each wait for the controller or an agent: generous, for a loaded 2-core machine. */
const WAIT_MS = 60_000;

const SPECS = `apiVersion: gse/v1
kind: StreamTarget
metadata: { name: gse-file }
spec:
  file: { path: gse/events.jsonl }
---
apiVersion: gse/v1
kind: StreamTarget
metadata: { name: proc-file }
spec:
  file: { path: gse/process.jsonl }
---
apiVersion: gse/v1
kind: StreamTarget
metadata: { name: metrics-file }
spec:
  file: { path: gse/metrics.jsonl }
---
apiVersion: gse/v1
kind: Route
metadata: { name: host-events }
spec:
  channel: events
  format: gse
  targets: [{ name: gse-file }]
  batch: { maxRecords: 1, maxDelay: 10ms }
---
apiVersion: gse/v1
kind: Route
metadata: { name: process-events }
spec:
  channel: 1100008
  format: gse
  targets: [{ name: proc-file }]
  batch: { maxRecords: 1, maxDelay: 10ms }
---
apiVersion: gse/v1
kind: Route
metadata: { name: metrics }
spec:
  channel: 1001
  targets: [{ name: metrics-file }]
  batch: { maxRecords: 1, maxDelay: 10ms }
---
apiVersion: gse/v1
kind: Remediation
metadata: { name: lost-web }
spec:
  on: { event: agent.lost, grace: 2s }
  hosts: { names: ["web-*"] }
  runner: { host: ops-1 }
  run:
    script: 'true'
    timeout: 10s
`;

interface Envelope<T = unknown> {
  result: boolean;
  code: number;
  message: string;
  data: T;
  request_id: string;
}

interface AgentState {
  bk_agent_id: string;
  bk_cloud_id: number;
  version: string;
  run_mode: number;
  status_code: number;
}

/** Runs `gse-agent push` with `lines` on stdin. */
async function push(stateDir: string, lines: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [AGENT_MAIN, 'push', '--state-dir', stateDir], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  child.stdin.end(`${lines.join('\n')}\n`);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stderr };
}

describe('GSE contract with a real controller and real agents', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let ops: AgentProcess;
  let web: AgentProcess;
  let secret: string;
  let work: string;

  /** A POST as a BlueKing tool sends it, with its credentials where `how` says. */
  async function gse<T>(path: string, body: Record<string, unknown>, how: 'body' | 'header' = 'body') {
    const creds = { bk_app_code: 'bk_monitorv3', bk_app_secret: secret, bk_username: 'admin' };
    const res = await httpCall(`${ctl.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(how === 'header' ? { 'x-bkapi-authorization': JSON.stringify(creds) } : {}),
      },
      body: JSON.stringify(how === 'body' ? { ...creds, ...body } : body),
      ...(ctl.ca ? { ca: ctl.ca } : {}),
    });
    return { status: res.status, body: JSON.parse(res.text) as Envelope<T> };
  }

  const lines = async (name: string) =>
    (await readFile(join(ctl.stateDir, 'targets', 'gse', name), 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'gse-contract-'));
    repo = await gitRepo({ 'fleet/gse.yaml': SPECS });
    ctl = await startController(repo.dir, { path: 'fleet' });
    ops = await startAgentProcess({ controllerUrl: ctl.agentUrl, name: 'ops-1', ip: OPS_IP });
    web = await startAgentProcess({
      controllerUrl: ctl.agentUrl,
      name: 'web-1',
      ip: WEB_IP,
      labels: `bk_agent_id=${WEB_GSE_ID}`,
    });
    await waitSynced(ctl, ['ops-1', 'web-1'], await repo.head());
    const created = await ctl.api<{ token: string; appCode: string }>('/api/v1/tokens', {
      body: { name: 'bk-monitor', role: 'viewer', appCode: 'bk_monitorv3' },
    });
    expect(created.status).toBe(200);
    expect(created.body.appCode).toBe('bk_monitorv3');
    secret = created.body.token;
  }, 120_000);
  afterAll(async () => {
    await ops?.cleanup();
    await web?.cleanup();
    await ctl?.cleanup();
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('refuses a second live token with the same app code', async () => {
    const res = await ctl.api<{ error: { message: string } }>('/api/v1/tokens', {
      body: { name: 'bk-monitor-2', role: 'viewer', appCode: 'bk_monitorv3' },
    });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain('belongs to token "bk-monitor"');
  });

  it('answers list_agent_state for cloud:ip and GSE 2.0 ids, leaving unknown ids out (gateway header)', async () => {
    const res = await gse<AgentState[]>(
      '/api/v2/cluster/list_agent_state',
      { agent_id_list: [`0:${OPS_IP}`, WEB_GSE_ID.toUpperCase(), '0:10.66.9.9'] },
      'header',
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ result: true, code: 0 });
    expect(res.body.request_id).toMatch(/^[0-9a-f]{32}$/);
    expect(res.body.data).toEqual([
      {
        bk_agent_id: `0:${OPS_IP}`,
        bk_cloud_id: 0,
        version: expect.any(String),
        run_mode: 0,
        status_code: 2,
      },
      {
        bk_agent_id: WEB_GSE_ID.toUpperCase(),
        bk_cloud_id: 0,
        version: expect.any(String),
        run_mode: 0,
        status_code: 2,
      },
    ]);
    expect(res.body.data[0]?.version).not.toBe('');
  });

  it('answers get_agent_status through the ESB path with body credentials', async () => {
    const res = await gse<Record<string, unknown>>('/api/c/compapi/v2/gse/get_agent_status/', {
      bk_supplier_account: '0',
      hosts: [{ ip: OPS_IP, bk_cloud_id: 0 }],
    });
    expect(res.body.data).toEqual({ [`0:${OPS_IP}`]: { ip: OPS_IP, bk_cloud_id: 0, bk_agent_alive: 1 } });
  });

  it('answers query_route for the events Route under each GSE event data id and for numeric channels', async () => {
    type Channel = { metadata: { channel_id: number }; route: Array<{ name: string }> };
    const base = await gse<Channel[]>('/api/v2/data/query_route', {
      condition: { channel_id: 1000, plat_name: 'bkmonitor' },
      operation: { operator_name: 'admin' },
    });
    expect(base.body.data.map((c) => c.route.map((r) => r.name))).toEqual([['host-events_gse-file']]);
    const proc = await gse<Channel[]>('/api/v2/data/query_route', { condition: { channel_id: 1100008 } });
    expect(proc.body.data[0]?.route.map((r) => r.name).sort()).toEqual([
      'host-events_gse-file',
      'process-events_proc-file',
    ]);
    const metrics = await gse<Channel[]>('/api/v2/data/query_route', { condition: { channel_id: 1001 } });
    expect(metrics.body.data[0]?.route.map((r) => r.name)).toEqual(['metrics_metrics-file']);
  });

  it('answers a GSE data-route write with a 404 envelope that points to Git', async () => {
    const res = await gse('/api/v2/data/add_route', { metadata: { plat_name: 'bkmonitor' } });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ result: false, code: 1000404, data: null });
  });

  it('emits pushed disk.full flat fields, a process restart and a numeric channel in GSE shapes', async () => {
    await waitFor(
      'web-1 ingest socket',
      () => stat(join(web.stateDir, 'ingest.sock')).then(() => true),
      WAIT_MS,
    );
    const pushed = await push(web.stateDir, [
      JSON.stringify({
        channel: 'events',
        type: 'disk.full',
        mount: '/data',
        device: '/dev/sdb1',
        fstype: 'ext4',
        used_percent: 95,
      }),
      JSON.stringify({
        channel: 'events',
        type: 'process.restarted',
        process: 'nginx',
        name: 'nginx',
        restarts: 1,
      }),
      JSON.stringify({ channel: '1001', cpu: 0.5 }),
    ]);
    expect(pushed.code).toBe(0);
    const disk = await waitFor(
      'the disk-full alarm',
      async () =>
        (await lines('events.jsonl')).find(
          (l) => (l.value as Array<{ extra: { type: number } }> | undefined)?.[0]?.extra.type === 6,
        ),
      WAIT_MS,
    );
    expect(disk).toMatchObject({
      server: WEB_IP,
      value: [
        {
          event_type: 'gse_basic_alarm_type',
          extra: { type: 6, host: WEB_IP, disk: '/data', file_system: '/dev/sdb1', fstype: 'ext4', free: 5 },
        },
      ],
    });
    const restart = await waitFor(
      'the process event on 1100008',
      async () => (await lines('process.jsonl'))[0],
      WAIT_MS,
    );
    expect(restart).toMatchObject({
      data_id: 1100008,
      data: [
        {
          event_name: 'process_restart_success',
          dimension: { bk_target_ip: WEB_IP, bk_target_cloud_id: '0', process_name: 'nginx' },
          target: `${WEB_IP}|0`,
        },
      ],
    });
    // The basic alarm is not a process event: only the restart reached the 1100008 Route.
    expect(await lines('process.jsonl')).toHaveLength(1);
    const metric = await waitFor(
      'the numeric-channel record',
      async () => (await lines('metrics.jsonl'))[0],
      WAIT_MS,
    );
    expect(metric).toMatchObject({ channel: '1001', fields: { cpu: 0.5 } });
  }, 120_000);

  it('keeps an offline host with its cloud id and version, and raises the agent-lost alarm once per outage', async () => {
    const before = (
      await gse<AgentState[]>('/api/v2/cluster/list_agent_state', { agent_id_list: [WEB_GSE_ID] })
    ).body.data[0];
    await web.kill('SIGKILL');
    const lost = await waitFor(
      'the agent-lost alarm',
      async () => {
        const found = (await lines('events.jsonl')).filter(
          (l) => (l.value as Array<{ extra: { type: number } }> | undefined)?.[0]?.extra.type === 2,
        );
        return found.length > 0 ? found : undefined;
      },
      WAIT_MS,
    );
    expect(lost?.[0]).toMatchObject({
      value: [{ extra: { type: 2, count: 1, host: [{ cloudid: 0, ip: WEB_IP, agent_id: `0:${WEB_IP}` }] } }],
    });
    const offline = await waitFor(
      'web-1 offline in list_agent_state',
      async () => {
        const res = await gse<AgentState[]>('/api/v2/cluster/list_agent_state', {
          agent_id_list: [WEB_GSE_ID],
        });
        return res.body.data[0]?.status_code === STATUS_OFFLINE ? res.body.data[0] : undefined;
      },
      WAIT_MS,
    );
    expect(offline).toEqual({ ...before, status_code: STATUS_OFFLINE });

    await web.restart();
    await waitFor(
      'web-1 running again',
      async () =>
        (await gse<AgentState[]>('/api/v2/cluster/list_agent_state', { agent_id_list: [WEB_GSE_ID] })).body
          .data[0]?.status_code === 2,
      WAIT_MS,
    );
    const alarms = (await lines('events.jsonl')).filter(
      (l) => (l.value as Array<{ extra: { type: number } }> | undefined)?.[0]?.extra.type === 2,
    );
    expect(alarms).toHaveLength(1);
  }, 180_000);
});
