/**
 * POST /api/v1/preview and POST /api/v1/sync/dry-run over an in-memory port: operator only, bad trees refused
 * with the field named, an invalid tree answered as such, dry runs of the connected hosts picked.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, host, MemoryPort, type ServedApi, serveApi, session, VIEWER } from './memory-port.js';

let port: MemoryPort;
let api: ServedApi;

beforeEach(async () => {
  port = new MemoryPort();
  port.hosts.set('web-1', host('web-1', { labels: { role: 'web' } }));
  port.hosts.set('web-2', host('web-2', { labels: { role: 'web' }, connected: false }));
  port.hosts.set('db-1', host('db-1', { labels: { role: 'db' } }));
  port.sessions.set('web-1', session('web-1'));
  port.sessions.set('db-1', session('db-1'));
  api = await serveApi(port);
});
afterEach(() => api.close());

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('POST /api/v1/preview', () => {
  it('hands the decoded tree to the controller and answers an invalid one with its errors', async () => {
    const error = { file: 'a.yaml', line: 3, col: 4, path: '', message: 'YAML: bad' };
    port.previewAnswer = { ok: false, errors: [error] };
    const res = await api.call('/api/v1/preview', {
      token: ADMIN,
      body: { files: { 'fleet/a.yaml': b64('x: 1\n') } },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ valid: false, errors: [error] });
    expect([...(port.previewed[0]?.entries() ?? [])].map(([p, c]) => [p, c.toString()])).toEqual([
      ['fleet/a.yaml', 'x: 1\n'],
    ]);
  });

  it.each([
    { name: 'no files object', body: { files: [] }, error: /^files: an object/ },
    {
      name: 'an absolute path',
      body: { files: { '/etc/passwd': '' } },
      error: /files\["\/etc\/passwd"\]: a relative/,
    },
    {
      name: 'a .. segment',
      body: { files: { 'a/../../b.yaml': '' } },
      error: /files\["a\/..\/..\/b.yaml"\]: a relative/,
    },
    {
      name: 'content that is not base64',
      body: { files: { 'a.yaml': 'not base64!' } },
      error: /the file's content in base64/,
    },
  ])('refuses $name with 400', async ({ body, error }) => {
    const res = await api.call('/api/v1/preview', { token: ADMIN, body });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(error);
    expect(port.previewed).toEqual([]);
  });

  it('refuses a viewer', async () => {
    const res = await api.call('/api/v1/preview', { token: VIEWER, body: { files: {} } });
    expect(res.status).toBe(403);
  });
});

describe('POST /api/v1/sync/dry-run', () => {
  it('asks every connected host, or those a selector picks, and reports one that did not answer', async () => {
    port.dryRunAnswers.set('web-1', {
      hostId: 'web-1',
      ok: true,
      report: {
        v: 1,
        type: 'report',
        id: 'r',
        manifestHash: 'm',
        revision: 'abc123',
        dryRunOf: 'd',
        items: [],
      },
    });
    const all = await (await api.call('/api/v1/sync/dry-run', { token: ADMIN, body: {} })).json();
    expect(port.dryRuns[0]).toEqual({ hostIds: ['db-1', 'web-1'], timeoutMs: 30_000 });
    expect(all).toEqual({
      hosts: [
        { hostId: 'db-1', name: 'db-1', ok: false, error: 'timeout', message: 'no answer', items: [] },
        { hostId: 'web-1', name: 'web-1', ok: true, revision: 'abc123', items: [], pruned: [] },
      ],
    });
    await api.call('/api/v1/sync/dry-run', { token: ADMIN, body: { hosts: 'role=web', timeoutMs: 5000 } });
    expect(port.dryRuns[1]).toEqual({ hostIds: ['web-1'], timeoutMs: 5000 });
  });

  it.each([
    { name: 'a host that is not connected', body: { host: 'web-2' }, status: 409 },
    { name: 'an unknown host', body: { host: 'nope' }, status: 404 },
    { name: 'host and hosts together', body: { host: 'web-1', hosts: 'role=web' }, status: 400 },
    { name: 'a timeout out of range', body: { timeoutMs: 0 }, status: 400 },
  ])('refuses $name with $status', async ({ body, status }) => {
    const res = await api.call('/api/v1/sync/dry-run', { token: ADMIN, body });
    expect(res.status).toBe(status);
    expect(port.dryRuns).toEqual([]);
  });
});
