/**
 * The API routes over an in-memory port: error mapping, query params as they reach the controller, JSON
 * shapes, GSE envelopes and security headers. The HTTP layer alone, served on 127.0.0.1:0.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentNotFoundError, AgentStateError } from '../../src/fleet/errors.js';
import { SourceFetchError, SourceStateError } from '../../src/source/errors.js';
import { encodeCursor } from '../../src/store/paging.js';
import type { RevisionRecord } from '../../src/store/types.js';
import { ADMIN, host, MemoryPort, type ServedApi, serveApi, session, T0, VIEWER } from './memory-port.js';

let port: MemoryPort;
let api: ServedApi;

beforeEach(async () => {
  port = new MemoryPort();
  port.hosts.set('web-1', host('web-1'));
  port.hosts.set('web-2', host('web-2', { connected: false, syncState: 'OutOfSync' }));
  port.sessions.set('web-1', session('web-1'));
  api = await serveApi(port);
});
afterEach(() => api.close());

const errorOf = async (res: Response) =>
  ((await res.json()) as { error: { code: string; message: string } }).error;

function revision(sha: string, seenAt: string, status: RevisionRecord['status']): RevisionRecord {
  return { sha, author: 'a', authoredAt: seenAt, message: 'm', seenAt, status, errors: [] };
}

describe('API error mapping', () => {
  const CASES: Array<{
    name: string;
    path: string;
    body?: unknown;
    method?: string;
    status: number;
    code: string;
  }> = [
    { name: 'a limit of 0', path: '/api/v1/hosts?limit=0', status: 400, code: 'bad_request' },
    { name: 'an empty cursor', path: '/api/v1/drift?cursor=', status: 400, code: 'bad_request' },
    { name: 'a bad since', path: '/api/v1/executions?since=yesterday', status: 400, code: 'bad_request' },
    {
      name: 'a remediation and a resource that contradict',
      path: '/api/v1/executions?remediation=r&resource=ConfigFile/x',
      status: 400,
      code: 'bad_request',
    },
    { name: 'a bad healed', path: '/api/v1/drift?healed=yes', status: 400, code: 'bad_request' },
    { name: 'a bad sync state', path: '/api/v1/hosts?syncState=Happy', status: 400, code: 'bad_request' },
    { name: 'bad labels', path: '/api/v1/hosts?labels=role%20in%20(web', status: 400, code: 'bad_request' },
    { name: 'a bad hosts selector', path: '/api/v1/hosts?hosts=role%3D', status: 400, code: 'bad_request' },
    { name: 'an unknown host', path: '/api/v1/hosts/nope', status: 404, code: 'not_found' },
    { name: 'the diff of an unknown host', path: '/api/v1/diff?host=nope', status: 404, code: 'not_found' },
    { name: 'an unknown route', path: '/api/v1/nothing', status: 404, code: 'not_found' },
    {
      name: 'a wrong method',
      path: '/api/v1/hosts',
      method: 'DELETE',
      status: 405,
      code: 'method_not_allowed',
    },
    {
      name: 'sync of a host not connected',
      path: '/api/v1/sync',
      body: { host: 'web-2' },
      status: 409,
      code: 'not_connected',
    },
    {
      name: 'sync with a numeric host',
      path: '/api/v1/sync',
      body: { host: 7 },
      status: 400,
      code: 'bad_request',
    },
    {
      name: 'exec without a script',
      path: '/api/v1/exec',
      body: { hosts: '*' },
      status: 400,
      code: 'bad_request',
    },
    {
      name: 'exec with a bad runAs',
      path: '/api/v1/exec',
      body: { hosts: '*', script: 'id', runAs: 'a b' },
      status: 400,
      code: 'bad_request',
    },
    {
      name: 'exec with a zero timeout',
      path: '/api/v1/exec',
      body: { hosts: '*', script: 'id', timeoutMs: 0 },
      status: 400,
      code: 'bad_request',
    },
    { name: 'a JSON array body', path: '/api/v1/sync', body: '[]', status: 400, code: 'bad_request' },
    { name: 'malformed JSON', path: '/api/v1/sync', body: '{"host":', status: 400, code: 'bad_request' },
  ];
  it.each(CASES)('answers $status $code for $name', async ({ path, body, method, status, code }) => {
    const res = await api.call(path, { token: ADMIN, body, method });
    expect(res.status).toBe(status);
    expect((await errorOf(res)).code).toBe(code);
  });

  it('answers 413 and closes the connection for a body over 1 MiB', async () => {
    const res = await api.call('/api/v1/sync', { token: ADMIN, body: ' '.repeat(2 * 1024 * 1024) });
    expect(res.status).toBe(413);
    expect(res.headers.get('connection')).toBe('close');
    expect((await errorOf(res)).code).toBe('too_large');
  });

  it('answers 502 git_unavailable with the source error code when Git cannot be fetched', async () => {
    port.head = new SourceFetchError('file:///repo', 'main', 'remote hung up');
    const res = await api.call('/api/v1/sync', { token: ADMIN, body: {} });
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({
      error: {
        code: 'git_unavailable',
        message: 'git: fetch file:///repo (branch main) failed: remote hung up',
        details: { code: 'SOURCE_FETCH_FAILED' },
      },
    });
  });

  it('answers 503 when the source is closed (the controller is stopping)', async () => {
    port.head = new SourceStateError('closed', 'fetch');
    const res = await api.call('/api/v1/sync', { token: ADMIN, body: {} });
    expect(res.status).toBe(503);
  });

  it('answers 500 internal without the cause, and logs it, when the port throws something unexpected', async () => {
    port.head = new Error('boom: secret detail');
    const res = await api.call('/api/v1/sync', { token: ADMIN, body: {} });
    expect(res.status).toBe(500);
    expect(await errorOf(res)).toEqual({ code: 'internal', message: 'internal error' });
    expect(port.errors.map((e) => e.message)).toEqual(['api handler crashed']);
  });

  it('maps a reset of an unknown agent to 404 and of a revoked one to 409', async () => {
    port.resetError = new AgentNotFoundError('ghost');
    expect((await api.call('/api/v1/agents/ghost/reset', { method: 'POST', token: ADMIN })).status).toBe(404);
    port.resetError = new AgentStateError('web-1', 'agent web-1 is revoked; approve it first');
    const res = await api.call('/api/v1/agents/web-1/reset', { method: 'POST', token: ADMIN });
    expect(res.status).toBe(409);
    expect(await errorOf(res)).toEqual({
      code: 'conflict',
      message: 'agent web-1 is revoked; approve it first',
    });
  });
});

describe('API listings', () => {
  it('passes limit (capped at 1000), cursor and filters on to the port', async () => {
    const cursor = encodeCursor('hosts', ['web-1']);
    await api.call(`/api/v1/hosts?limit=5000&cursor=${cursor}&syncState=OutOfSync`, {
      token: VIEWER,
    });
    expect(port.queries.hosts).toEqual([{ limit: 1000, cursor, syncState: 'OutOfSync' }]);
    await api.call('/api/v1/drift?host=web-1&resource=ConfigFile/motd&since=2024-05-01&healed=false', {
      token: VIEWER,
    });
    expect(port.queries.drift).toEqual([
      {
        limit: undefined,
        cursor: undefined,
        hostId: 'web-1',
        key: 'ConfigFile/motd',
        since: '2024-05-01',
        healed: false,
      },
    ]);
    await api.call('/api/v1/revisions?limit=2', { token: VIEWER });
    expect(port.queries.revisions).toEqual([{ limit: 2, cursor: undefined }]);
  });

  it('shows a host with its session, plan errors and recent records, reading 20 drift and executions', async () => {
    const res = await api.call('/api/v1/hosts/web-1', { token: VIEWER });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual([
      'host',
      'session',
      'manifest',
      'planErrors',
      'resources',
      'drift',
      'executions',
    ]);
    expect(body.session).toMatchObject({ agentId: 'web-1' });
    expect(body.manifest).toBeNull();
    expect(port.queries.drift).toEqual([{ hostId: 'web-1', limit: 20 }]);
  });

  it('lists in the diff only hosts with resources not Synced, unless one host is asked for', async () => {
    const res = (state: 'Synced' | 'OutOfSync', hostId: string) => ({
      hostId,
      key: 'ConfigFile/motd',
      kind: 'ConfigFile',
      name: 'motd',
      hash: 'h',
      state,
      updatedAt: new Date(T0).toISOString(),
    });
    port.resources = [res('Synced', 'web-1'), res('OutOfSync', 'web-2')];
    // web-2's desired motd and what its agent last reported of it: the diff shows the text.
    const item = {
      kind: 'ConfigFile' as const,
      name: 'motd',
      hash: 'h',
      path: '/etc/motd',
      content: 'managed\n',
      encoding: 'utf8' as const,
      contentHash: 'c-managed',
      mode: 0o644,
      selfHeal: false,
      prune: true,
    };
    port.manifests.set('web-2', {
      hostId: 'web-2',
      revision: 'abc123',
      labels: {},
      items: [item],
      hash: 'm',
    });
    port.reports.set('web-2', [
      {
        kind: 'ConfigFile',
        name: 'motd',
        hash: 'h',
        state: 'drifted',
        observedHash: 'c-edited',
        observed: { exists: true, size: 7, mode: 0o644, content: 'edited\n' },
      },
    ]);
    const name = (id: string) => port.hosts.get(id)?.name ?? id;
    const all = await (await api.call('/api/v1/diff', { token: VIEWER })).json();
    expect(all).toEqual({
      items: [
        {
          hostId: 'web-2',
          name: name('web-2'),
          resources: [
            {
              ...res('OutOfSync', 'web-2'),
              changes: [],
              diff: `--- ${name('web-2')}:/etc/motd (on the host)\n+++ git:/etc/motd (desired)\n@@ -1,1 +1,1 @@\n-edited\n+managed\n`,
            },
          ],
        },
      ],
    });
    const one = await (await api.call('/api/v1/diff?host=web-1', { token: VIEWER })).json();
    expect(one).toEqual({ items: [{ hostId: 'web-1', name: name('web-1'), resources: [] }] });
  });

  it('never shows an agent credential hash, in the list or in an action answer', async () => {
    port.agentRecords.set('web-1', {
      agentId: 'web-1',
      name: 'web-1',
      credentialHash: 'ab'.repeat(32),
      status: 'pending',
      enrolledAt: new Date(T0).toISOString(),
      updatedAt: new Date(T0).toISOString(),
    });
    const list = await (await api.call('/api/v1/agents', { token: VIEWER })).json();
    expect(list).toEqual({
      items: [
        {
          agentId: 'web-1',
          name: 'web-1',
          status: 'pending',
          enrolledAt: new Date(T0).toISOString(),
          updatedAt: new Date(T0).toISOString(),
          state: 'Connected',
        },
      ],
    });
    const approved = await api.call('/api/v1/agents/web-1/approve', { method: 'POST', token: ADMIN });
    const text = await approved.text();
    expect(JSON.parse(text)).toMatchObject({ agentId: 'web-1', status: 'approved' });
    expect(text).not.toContain('credentialHash');
  });
});

describe('API status and readiness', () => {
  it('reports a rejection only when it is newer than the applied revision', async () => {
    port.applied = revision('good', '2024-05-01T10:00:00.000Z', 'accepted');
    port.lastRejected = revision('old-bad', '2024-05-01T09:00:00.000Z', 'rejected');
    type Status = {
      revision: { applied: RevisionRecord; lastRejected: RevisionRecord | null };
      hosts: unknown;
      lifecycle: string;
    };
    let body = (await (await api.call('/api/v1/status', { token: VIEWER })).json()) as Status;
    expect(body.revision.applied.sha).toBe('good');
    expect(body.revision.lastRejected).toBeNull();
    expect(body.hosts).toEqual({
      total: 2,
      connected: 1,
      bySyncState: { Synced: 1, OutOfSync: 1, Progressing: 0, Failed: 0, Unknown: 0 },
    });
    expect(body.lifecycle).toBe('running');
    port.lastRejected = revision('new-bad', '2024-05-01T11:00:00.000Z', 'rejected');
    body = (await (await api.call('/api/v1/status', { token: VIEWER })).json()) as Status;
    expect(body.revision.lastRejected?.sha).toBe('new-bad');
  });

  it('is ready only when running with a revision, and says why not otherwise', async () => {
    expect(await (await api.call('/readyz')).json()).toEqual({ ready: true, revision: 'abc123' });
    port.revisionId = undefined;
    let res = await api.call('/readyz');
    expect(res.status).toBe(503);
    expect(await errorOf(res)).toEqual({ code: 'not_ready', message: 'no revision applied yet' });
    port.revisionId = 'abc123';
    port.state = 'draining';
    res = await api.call('/readyz');
    expect(res.status).toBe(503);
    expect((await errorOf(res)).message).toBe('controller is draining');
  });
});

describe('API sync and hooks', () => {
  it('syncs every host after a fetch, or the one asked for', async () => {
    expect(await (await api.call('/api/v1/sync', { token: ADMIN, body: {} })).json()).toEqual({
      revision: 'abc123',
      hosts: ['web-1', 'web-2'],
    });
    expect(await (await api.call('/api/v1/sync', { token: ADMIN, body: { host: 'web-1' } })).json()).toEqual({
      revision: 'abc123',
      hosts: ['web-1'],
    });
    expect(port.synced).toEqual([undefined, ['web-1']]);
  });

  it('answers exec with wait:false as soon as the task is out, with the hosts it went to', async () => {
    port.execHosts = ['web-1'];
    const res = await api.call('/api/v1/exec', {
      token: ADMIN,
      body: { hosts: 'role=web', script: 'uptime', runAs: 'nobody:nogroup', timeoutMs: 500, wait: false },
    });
    expect(await res.json()).toEqual({ taskId: port.execRequests[0]?.taskId, hosts: ['web-1'], offline: [] });
    expect(port.execRequests).toEqual([
      {
        selector: { matchLabels: { role: 'web' } },
        script: 'uptime',
        interpreter: undefined,
        timeoutMs: 500,
        runAs: 'nobody:nogroup',
        requestedBy: 'admin',
        taskId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      },
    ]);
  });

  it('refuses a webhook with a bad signature when a secret is set, and fetches on a good one', async () => {
    await api.close();
    port.config = { ...port.config, webhookSecret: 'hook-secret' };
    api = await serveApi(port);
    const push = JSON.stringify({ ref: 'refs/heads/main' });
    const bad = await fetch(`${api.url}/api/v1/hooks/git`, {
      method: 'POST',
      headers: { 'x-github-event': 'push', 'x-hub-signature-256': 'sha256=00' },
      body: push,
    });
    expect(bad.status).toBe(401);
    const { createHmac } = await import('node:crypto');
    const sig = `sha256=${createHmac('sha256', 'hook-secret').update(push).digest('hex')}`;
    const good = await fetch(`${api.url}/api/v1/hooks/git`, {
      method: 'POST',
      headers: { 'x-github-event': 'push', 'x-hub-signature-256': sig },
      body: push,
    });
    expect(await good.json()).toEqual({ accepted: true, provider: 'github', revision: 'abc123' });
  });
});

describe('API GSE queries', () => {
  it('answers in the GSE envelope, with a GSE error (HTTP 200) for a bad condition', async () => {
    const ok = await api.call('/api/v1/gse/query_streamto', { token: VIEWER, body: { condition: {} } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({
      result: true,
      code: 0,
      message: 'success',
      data: [],
      request_id: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    const bad = await api.call('/api/v1/gse/query_route', {
      token: VIEWER,
      body: { condition: { channel_id: 'x' } },
    });
    expect(bad.status).toBe(200);
    expect(await bad.json()).toMatchObject({ result: false, code: 1000001, data: null });
    const missing = await api.call('/api/v1/gse/query_route', {
      token: VIEWER,
      body: { condition: { channel_id: 7 } },
    });
    expect(await missing.json()).toEqual({
      result: false,
      code: 1014505,
      message: 'route 7 not found',
      data: null,
      request_id: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
  });

  it('answers agent status from the port fleet view', async () => {
    port.fleet = [
      { hostId: 'web-1', ips: ['10.0.0.1'], cloudId: 0, agentVersion: '0.1.0', alive: true, processes: {} },
    ];
    const res = await api.call('/api/v1/gse/get_agent_status', {
      token: VIEWER,
      body: { hosts: [{ ip: '10.0.0.1', bk_cloud_id: 0 }] },
    });
    expect(await res.json()).toMatchObject({
      result: true,
      data: { '0:10.0.0.1': { ip: '10.0.0.1', bk_cloud_id: 0, bk_agent_alive: 1 } },
    });
  });
});

describe('API tokens', () => {
  it('creates a named token whose secret then authenticates with its role, and stores only its hash', async () => {
    const res = await api.call('/api/v1/tokens', {
      token: ADMIN,
      body: { name: 'deploy', role: 'operator' },
    });
    expect(res.status).toBe(200);
    const created = (await res.json()) as { token: string; createdBy: string };
    expect(created.createdBy).toBe('admin');
    expect(JSON.stringify(port.tokenRecords)).not.toContain(created.token);
    expect((await api.call('/api/v1/sync', { token: created.token, body: {} })).status).toBe(200);
    expect(port.auditRecords.at(-1)).toMatchObject({ actor: 'deploy', action: 'POST /api/v1/sync' });
  });

  it('refuses the names of the flag tokens', async () => {
    const res = await api.call('/api/v1/tokens', { token: ADMIN, body: { name: 'viewer', role: 'viewer' } });
    expect(res.status).toBe(409);
  });
});

describe('API security headers', () => {
  it('sets the common headers and the API CSP on JSON, errors and /metrics', async () => {
    for (const res of [
      await api.call('/api/v1/hosts', { token: VIEWER }),
      await api.call('/api/v1/hosts'),
      await api.call('/metrics'),
    ]) {
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('content-security-policy')).toBe(
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
      );
    }
  });

  it('serves the dashboard with a hash-based CSP and no caching', async () => {
    const res = await api.call('/');
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toContain('unsafe-inline');
  });
});
