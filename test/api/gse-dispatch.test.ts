/**
 * The GSE paths over the API's real HTTP layer and an in-memory port: every path family the BlueKing tools
 * call reaches its action, credentials in each place they send them map to named tokens, and every answer,
 * errors included, is GSE's envelope with a request_id.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApiHandler } from '../../src/api/app.js';
import { hashToken, TokenAuthenticator } from '../../src/api/auth.js';
import { FAMILY_PATHS, GSE_ACTIONS } from '../../src/api/gse/actions.js';
import { gseRoutes, REQUEST_ID_HEADER } from '../../src/api/gse/dispatch.js';
import { gseOk } from '../../src/api/gse/envelope.js';
import { read, write } from '../../src/api/gse/types.js';
import type { TokenRecord } from '../../src/store/types.js';
import { ADMIN, MemoryPort, type ServedApi, serveApi, T0 } from './memory-port.js';

const OPERATOR_SECRET = 'gse_operator-secret-for-gse-dispatch-tests';
const VIEWER_SECRET = 'gse_viewer-secret-for-gse-dispatch-tests';

function token(name: string, role: TokenRecord['role'], secret: string, appCode?: string): TokenRecord {
  return {
    name,
    role,
    hash: hashToken(secret),
    createdAt: new Date(T0).toISOString(),
    createdBy: 'admin',
    ...(appCode ? { appCode } : {}),
  };
}

interface Envelope {
  result: boolean;
  code: number;
  message: string;
  data: unknown;
  request_id: string;
}

async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Envelope; requestIdHeader: string | null }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as Envelope,
    requestIdHeader: res.headers.get(REQUEST_ID_HEADER),
  };
}

const APP = { bk_app_code: 'bk_monitorv3', bk_app_secret: OPERATOR_SECRET };

describe('GSE paths and credentials', () => {
  let port: MemoryPort;
  let api: ServedApi;

  beforeAll(async () => {
    port = new MemoryPort();
    port.fleet = [
      { hostId: 'web-1', ips: ['10.0.0.1'], cloudId: 0, agentVersion: '1.2.0', alive: true, processes: {} },
    ];
    port.tokenRecords = [
      token('bk-monitor', 'operator', OPERATOR_SECRET, 'bk_monitorv3'),
      token('bk-viewer', 'viewer', VIEWER_SECRET, 'bk_viewer'),
      token('old', 'viewer', 'gse_revoked-secret-for-gse-dispatch-tests', 'bk_old'),
    ];
    port.tokenRecords[2] = {
      ...(port.tokenRecords[2] as TokenRecord),
      revokedAt: new Date(T0).toISOString(),
    };
    api = await serveApi(port);
  });
  afterAll(() => api.close());

  it.each([
    ['/api/v2/cluster/list_agent_state', { agent_id_list: ['0:10.0.0.1'] }],
    ['/api/v2/cluster/list_agent_state/', { agent_id_list: ['0:10.0.0.1'] }],
    ['/api/bk-gse/prod/api/v2/cluster/list_agent_state/', { agent_id_list: ['web-1'] }],
    ['/api/v1/gse/list_agent_state', { agent_id_list: ['web-1'] }],
    ['/api/c/compapi/v2/gse/list_agent_state/', { agent_id_list: ['web-1'] }],
  ])('answers list_agent_state at %s', async (path, body) => {
    const res = await post(`${api.url}${path}`, { ...APP, ...body });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      result: true,
      code: 0,
      data: [{ bk_cloud_id: 0, version: '1.2.0', status_code: 2 }],
    });
    expect(res.body.request_id).toMatch(/^[0-9a-f]{32}$/);
    expect(res.requestIdHeader).toBe(res.body.request_id);
  });

  it.each([
    ['/api/v2/get_agent_status'],
    ['/api/c/compapi/v2/gse/get_agent_status/'],
    ['/api/bk-gse/prod/api/v2/get_agent_status/'],
  ])('answers get_agent_status at %s', async (path) => {
    const res = await post(`${api.url}${path}`, {
      ...APP,
      bk_supplier_account: '0',
      hosts: [{ ip: '10.0.0.1', bk_cloud_id: 0 }],
    });
    expect(res.body.data).toEqual({ '0:10.0.0.1': { ip: '10.0.0.1', bk_cloud_id: 0, bk_agent_alive: 1 } });
  });

  it.each([
    ['/api/v2/get_proc_status'],
    ['/api/v2/data/get_proc_status'],
    ['/api/v2/proc/get_proc_status_v2/'],
    ['/api/c/compapi/v2/gse/get_proc_status/'],
  ])('answers get_proc_status at %s', async (path) => {
    const res = await post(`${api.url}${path}`, {
      ...APP,
      meta: { namespace: 'nodeman', name: 'bkmonitorbeat', labels: { proc_name: 'bkmonitorbeat' } },
      agent_id_list: ['web-1'],
    });
    expect(res.body).toMatchObject({
      result: true,
      data: { proc_infos: [{ bk_agent_id: 'web-1', status: 0 }] },
    });
  });

  it.each([['/api/v2/data/query_route'], ['/api/c/compapi/v2/gse/config_query_route/']])(
    'answers query_route at %s with GSE not-found code for a missing channel',
    async (path) => {
      const res = await post(`${api.url}${path}`, { ...APP, condition: { channel_id: 4242 } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ result: false, code: 1014505, data: null });
      expect(res.body.message).toContain('not found');
    },
  );

  it('takes the credentials from X-Bkapi-Authorization, the query string and a Bearer token', async () => {
    const body = { agent_id_list: ['web-1'] };
    const url = `${api.url}/api/v2/cluster/list_agent_state`;
    const header = await post(url, body, {
      'x-bkapi-authorization': JSON.stringify({ ...APP, bk_username: 'alice' }),
    });
    expect(header.body.result).toBe(true);
    const query = await post(`${url}?bk_app_code=bk_viewer&bk_app_secret=${VIEWER_SECRET}`, body);
    expect(query.body.result).toBe(true);
    const bearer = await post(url, body, { authorization: `Bearer ${ADMIN}` });
    expect(bearer.body.result).toBe(true);
  });

  it.each([
    ['no credentials', {}, {}, 'missing or invalid credentials'],
    [
      'a wrong secret',
      { bk_app_code: 'bk_monitorv3', bk_app_secret: 'nope' },
      {},
      'bk_app_code "bk_monitorv3"',
    ],
    [
      'the secret of another app code',
      { bk_app_code: 'bk_viewer', bk_app_secret: OPERATOR_SECRET },
      {},
      'bk_app_code "bk_viewer"',
    ],
    [
      'a revoked token',
      { bk_app_code: 'bk_old', bk_app_secret: 'gse_revoked-secret-for-gse-dispatch-tests' },
      {},
      'token "old" was revoked',
    ],
    ['a header that is not JSON', {}, { 'x-bkapi-authorization': 'bk_app_code=x' }, 'X-Bkapi-Authorization'],
    [
      'an admin flag token as bk_app_secret',
      { bk_app_code: 'admin', bk_app_secret: ADMIN },
      {},
      'bk_app_code "admin"',
    ],
  ])('answers 401 in the envelope for %s', async (_name, creds, headers, message) => {
    const res = await post(
      `${api.url}/api/v2/cluster/list_agent_state`,
      { ...creds, agent_id_list: [] },
      headers,
    );
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ result: false, code: 1000401, data: null });
    expect(res.body.message).toContain(message);
    expect(res.body.request_id).toMatch(/^[0-9a-f]{32}$/);
  });

  it('answers 404 in the envelope for an unknown action, an unknown family and a GSE write served by Git', async () => {
    const unknown = await post(`${api.url}/api/v2/cluster/no_such_action`, APP);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ result: false, code: 1000404 });
    expect(unknown.body.message).toContain('unknown GSE action "no_such_action"');
    const family = await post(`${api.url}/api/v2/nothing/list_agent_state`, APP);
    expect(family.status).toBe(404);
    expect(family.body.message).toContain('no GSE action at this path');
    const write = await post(`${api.url}/api/c/compapi/v2/gse/config_add_route/`, APP);
    expect(write.status).toBe(404);
    expect(write.body.message).toContain('commit a Route spec');
  });

  it('answers 400 in the envelope when the body is not JSON, once the caller is known', async () => {
    const res = await post(`${api.url}/api/v2/cluster/list_agent_state`, '{"agent_id_list": [', {
      'x-bkapi-authorization': JSON.stringify(APP),
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ result: false, code: 1000001, data: null });
    expect(res.body.message).toContain('not valid JSON');
    const text = await post(`${api.url}/api/v1/gse/query_route`, '"x"', {
      'x-bkapi-authorization': JSON.stringify(APP),
    });
    expect(text.status).toBe(400);
    expect(text.body).toMatchObject({ result: false, code: 1000001 });
    expect(text.body.message).toBe('request body must be a JSON object, got a string');
  });

  it('answers a field error in the envelope with HTTP 200, as GSE does', async () => {
    const res = await post(`${api.url}/api/v2/cluster/list_agent_state`, { ...APP, agent_id_list: 'web-1' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ result: false, code: 1000001 });
    expect(res.body.message).toContain('agent_id_list');
  });

  it('serves every family path listed in FAMILY_PATHS', () => {
    for (const { family } of FAMILY_PATHS) expect(family === 'v1' || family in GSE_ACTIONS).toBe(true);
  });
});

describe('GSE actions registered in a table', () => {
  let server: Server;
  let url: string;
  let port: MemoryPort;
  const audits: Array<{ actor: string; action: string; status: number; detail?: unknown }> = [];
  const seen: Array<{ actor: string; username?: string; body: unknown }> = [];

  beforeAll(async () => {
    port = new MemoryPort();
    port.tokenRecords = [
      token('bk-job', 'operator', OPERATOR_SECRET, 'bk_job'),
      token('bk-viewer', 'viewer', VIEWER_SECRET, 'bk_viewer'),
    ];
    const auth = new TokenAuthenticator([], port.tokens);
    const routes = gseRoutes({
      port,
      auth,
      audit: async (e) => {
        audits.push(e);
      },
      newRequestId: () => 'req-1',
      actions: {
        'task/extensions': {
          async_execute_script: write((call) => {
            seen.push({ actor: call.actor.name, username: call.username, body: call.body });
            return gseOk({ result: { task_id: 'GSETASK:1' } });
          }),
          explode: read(() => {
            throw new Error('boom');
          }),
        },
      },
    });
    server = createServer(createApiHandler(routes, { auth, logger: port.logger }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(() => {
    audits.length = 0;
    seen.length = 0;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('calls a write action with the caller, without the credentials, and audits it when the role allows', async () => {
    const res = await post(
      `${url}/api/v2/task/extensions/async_execute_script`,
      { agents: [] },
      {
        'x-bkapi-authorization': JSON.stringify({
          bk_app_code: 'bk_job',
          bk_app_secret: OPERATOR_SECRET,
          bk_username: 'alice',
        }),
      },
    );
    expect(res.body).toEqual({
      result: true,
      code: 0,
      message: 'success',
      data: { result: { task_id: 'GSETASK:1' } },
      request_id: 'req-1',
    });
    expect(seen).toEqual([{ actor: 'bk-job', username: 'alice', body: { agents: [] } }]);
    expect(audits).toEqual([
      {
        actor: 'bk-job',
        action: 'POST /api/v2/task/extensions/async_execute_script',
        target: '/api/v2/task/extensions/async_execute_script',
        status: 200,
        detail: { action: 'async_execute_script', bk_username: 'alice' },
      },
    ]);
  });

  it('answers 403 in the envelope and audits the denial when the token role is too low', async () => {
    const res = await post(`${url}/api/v1/gse/async_execute_script`, {
      bk_app_code: 'bk_viewer',
      bk_app_secret: VIEWER_SECRET,
    });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ result: false, code: 1000403, request_id: 'req-1' });
    expect(res.body.message).toContain('needs the operator role; token "bk-viewer" is viewer');
    expect(seen).toEqual([]);
    expect(audits).toMatchObject([{ actor: 'bk-viewer', status: 403 }]);
  });

  it('answers 500 in the envelope and logs when a handler throws', async () => {
    const res = await post(`${url}/api/v2/task/extensions/explode`, {
      bk_app_code: 'bk_job',
      bk_app_secret: OPERATOR_SECRET,
    });
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ result: false, code: 1000500, data: null, request_id: 'req-1' });
    expect(res.body.message).not.toContain('boom');
    expect(port.errors.at(-1)).toMatchObject({
      message: 'gse action failed',
      fields: { err: 'Error: boom' },
    });
  });
});
