/**
 * The API's auth, roles and audit over an in-memory port (no controller, no git, no agents): who may call
 * what, and that every mutating call leaves an audit record with the token name, denied and failed ones too.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/api/auth.js';
import { SourceFetchError } from '../../src/source/errors.js';
import type { TokenRecord } from '../../src/store/types.js';
import {
  ADMIN,
  execution,
  host,
  MemoryPort,
  type ServedApi,
  serveApi,
  session,
  T0,
  VIEWER,
} from './memory-port.js';

const OPERATOR = 'gse_operator-secret';
const REVOKED = 'gse_revoked-secret';

function token(name: string, role: TokenRecord['role'], secret: string, extra: Partial<TokenRecord> = {}) {
  return {
    name,
    role,
    hash: hashToken(secret),
    createdAt: new Date(T0).toISOString(),
    createdBy: 'admin',
    ...extra,
  } satisfies TokenRecord;
}

let port: MemoryPort;
let api: ServedApi;

beforeEach(async () => {
  port = new MemoryPort();
  port.hosts.set('web-1', host('web-1'));
  port.sessions.set('web-1', session('web-1'));
  port.tokenRecords = [
    token('ci', 'operator', OPERATOR),
    token('old', 'admin', REVOKED, { revokedAt: new Date(T0).toISOString() }),
  ];
  api = await serveApi(port);
});
afterEach(() => api.close());

const errorOf = async (res: Response) =>
  ((await res.json()) as { error: { code: string; message: string } }).error;

describe('API auth and roles', () => {
  const CASES: Array<{ name: string; path: string; method?: string; token?: string; status: number }> = [
    { name: 'no token on a viewer route', path: '/api/v1/hosts', status: 401 },
    { name: 'an unknown token', path: '/api/v1/hosts', token: 'nope', status: 401 },
    { name: 'the viewer token on a viewer route', path: '/api/v1/hosts', token: VIEWER, status: 200 },
    { name: 'the viewer token on sync', path: '/api/v1/sync', method: 'POST', token: VIEWER, status: 403 },
    { name: 'a named operator on sync', path: '/api/v1/sync', method: 'POST', token: OPERATOR, status: 200 },
    { name: 'an operator on the token list', path: '/api/v1/tokens', token: OPERATOR, status: 403 },
    { name: 'an operator on the audit log', path: '/api/v1/audit', token: OPERATOR, status: 200 },
    { name: 'the viewer on the audit log', path: '/api/v1/audit', token: VIEWER, status: 403 },
    { name: 'the admin on the token list', path: '/api/v1/tokens', token: ADMIN, status: 200 },
    { name: 'no token on /healthz', path: '/healthz', status: 200 },
    { name: 'no token on the dashboard', path: '/', status: 200 },
    {
      name: 'the viewer on a GSE query',
      path: '/api/v1/gse/query_streamto',
      method: 'POST',
      token: VIEWER,
      status: 200,
    },
  ];
  it.each(CASES)('answers $status for $name', async ({ path, method, token: t, status }) => {
    const res = await api.call(path, { method, token: t });
    expect(res.status).toBe(status);
  });

  it('names a revoked token in the 401 so its holder knows to ask for a new one', async () => {
    const res = await api.call('/api/v1/hosts', { token: REVOKED });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).message).toBe('token "old" was revoked; ask an admin for a new one');
  });

  it('says which role a denied call needs and which the token has', async () => {
    const res = await api.call('/api/v1/agents/web-1/approve', { method: 'POST', token: OPERATOR });
    expect(res.status).toBe(403);
    expect(await errorOf(res)).toEqual({
      code: 'forbidden',
      message: 'POST /api/v1/agents/:id/approve needs the admin role; token "ci" is operator',
    });
  });

  it('keeps /metrics public until a metrics token is set, then asks for exactly that token', async () => {
    expect((await api.call('/metrics')).status).toBe(200);
    await api.close();
    port.config = { ...port.config, metricsToken: 'scrape-me' };
    api = await serveApi(port);
    expect((await api.call('/metrics')).status).toBe(401);
    expect((await api.call('/metrics', { token: ADMIN })).status).toBe(401);
    const res = await api.call('/metrics', { token: 'scrape-me' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4');
    expect(await res.text()).toBe('gse_up 1\n');
  });
});

describe('API audit', () => {
  it('records a successful mutating call with the token name, route pattern, status and detail', async () => {
    const res = await api.call('/api/v1/sync', { token: OPERATOR, body: { host: 'web-1' } });
    expect(res.status).toBe(200);
    expect(port.auditRecords).toEqual([
      {
        id: 'audit-1',
        at: new Date(T0).toISOString(),
        actor: 'ci',
        action: 'POST /api/v1/sync',
        target: '/api/v1/sync',
        status: 200,
        detail: { host: 'web-1' },
      },
    ]);
  });

  it('records a call denied for its role as 403 with the token name', async () => {
    await api.call('/api/v1/sync', { token: VIEWER, body: {} });
    expect(port.auditRecords.map((r) => [r.actor, r.action, r.status])).toEqual([
      ['viewer', 'POST /api/v1/sync', 403],
    ]);
  });

  it('records a refused call with its status and the error beside the detail', async () => {
    const res = await api.call('/api/v1/sync', { token: OPERATOR, body: { host: 'gone' } });
    expect(res.status).toBe(404);
    expect(port.auditRecords).toHaveLength(1);
    expect(port.auditRecords[0]).toMatchObject({
      actor: 'ci',
      status: 404,
      detail: { error: 'no host "gone"', host: 'gone' },
    });
  });

  it('records a failed call (git down) as 502', async () => {
    port.head = new SourceFetchError('file:///repo', 'main', 'remote hung up');
    const res = await api.call('/api/v1/sync', { token: ADMIN, body: {} });
    expect(res.status).toBe(502);
    expect(port.auditRecords[0]).toMatchObject({ actor: 'admin', status: 502 });
  });

  it('records the target of an agent action by its concrete path', async () => {
    port.agentRecords.set('web-1', {
      agentId: 'web-1',
      name: 'web-1',
      credentialHash: 'ab'.repeat(32),
      status: 'pending',
      enrolledAt: new Date(T0).toISOString(),
      updatedAt: new Date(T0).toISOString(),
    });
    await api.call('/api/v1/agents/web-1/approve', { method: 'POST', token: ADMIN });
    expect(port.auditRecords[0]).toMatchObject({
      action: 'POST /api/v1/agents/:id/approve',
      target: '/api/v1/agents/web-1/approve',
      status: 200,
    });
  });

  it('does not audit reads, read-only GSE queries, or calls without a known token', async () => {
    await api.call('/api/v1/hosts', { token: VIEWER });
    await api.call('/api/v1/gse/get_agent_status', { token: VIEWER, body: { hosts: [] } });
    await api.call('/api/v1/sync', { token: 'unknown', body: {} });
    await api.call('/api/v1/hooks/git', { body: {} });
    expect(port.auditRecords).toEqual([]);
  });

  it('audits a streaming exec once, when the task is out and before any result arrives', async () => {
    port.execHosts = ['web-1'];
    const res = await api.call('/api/v1/exec', {
      token: OPERATOR,
      body: { hosts: '*', script: 'echo hi' },
    });
    expect(res.status).toBe(200);
    const reader = res.body?.getReader();
    if (!reader) throw new Error('no body');
    const first = new TextDecoder().decode((await reader.read()).value);
    // The route picks the task id (it subscribes to it before the task goes out).
    const taskId = port.execRequests[0]?.taskId;
    expect(taskId).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(first.split('\n')[0] ?? '')).toEqual({
      type: 'started',
      taskId,
      hosts: ['web-1'],
      offline: [],
    });
    // The stream is still open (no result yet), and the audit record already exists.
    expect(port.auditRecords).toEqual([
      expect.objectContaining({
        actor: 'ci',
        action: 'POST /api/v1/exec',
        status: 200,
        detail: { taskId, hosts: 1, selector: '*', script: 'echo hi' },
      }),
    ]);
    port.emitResult(execution(taskId as string, 'web-1', 'succeeded'));
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read())
      rest += new TextDecoder().decode(r.value);
    const lines = rest
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.type)).toEqual(['result', 'summary']);
    expect(lines[1]).toEqual({ type: 'summary', taskId, hosts: 1, succeeded: 1, pending: [], offline: [] });
    expect(port.auditRecords).toHaveLength(1);
    expect(port.execRequests[0]?.requestedBy).toBe('ci');
  });

  it('keeps only the first 1000 characters of an exec script in the audit record', async () => {
    await api.call('/api/v1/exec', {
      token: ADMIN,
      body: { hosts: '*', script: 'x'.repeat(5000), wait: false },
    });
    const detail = port.auditRecords[0]?.detail as { script: string };
    expect(detail.script).toHaveLength(1000);
  });

  it('still answers the call and logs loudly when the audit write fails', async () => {
    port.auditError = new Error('disk full');
    const res = await api.call('/api/v1/sync', { token: ADMIN, body: {} });
    expect(res.status).toBe(200);
    expect(port.errors).toEqual([
      {
        message: 'audit write failed',
        fields: { err: 'Error: disk full', actor: 'admin', path: '/api/v1/sync' },
      },
    ]);
  });
});
