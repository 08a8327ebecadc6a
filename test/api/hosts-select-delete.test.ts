/**
 * The host routes over an in-memory port: GET /api/v1/hosts?hosts=SELECTOR (the selector grammar of
 * `gsectl exec --hosts`, paged with the store's cursor) and DELETE /api/v1/hosts/:id (operator, audited,
 * 409 when connected without force, 404 unknown).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/api/auth.js';
import { encodeCursor } from '../../src/store/paging.js';
import type { AgentRecord } from '../../src/store/types.js';
import { ADMIN, host, MemoryPort, type ServedApi, serveApi, session, T0, VIEWER } from './memory-port.js';

const OPERATOR = 'gse_operator-secret';

let port: MemoryPort;
let api: ServedApi;

function agent(agentId: string): AgentRecord {
  const at = new Date(T0).toISOString();
  return { agentId, name: agentId, credentialHash: 'x', status: 'approved', enrolledAt: at, updatedAt: at };
}

beforeEach(async () => {
  port = new MemoryPort();
  port.tokenRecords.push({
    name: 'ci',
    role: 'operator',
    hash: hashToken(OPERATOR),
    createdAt: new Date(T0).toISOString(),
    createdBy: 'admin',
  });
  port.hosts.set('db-1', host('db-1', { labels: { role: 'db' } }));
  port.hosts.set('web-1', host('web-1', { labels: { role: 'web', zone: 'gz' } }));
  port.hosts.set('web-2', host('web-2', { labels: { role: 'web' }, connected: false }));
  port.sessions.set('web-1', session('web-1'));
  port.agentRecords.set('web-1', agent('web-1'));
  port.agentRecords.set('web-2', agent('web-2'));
  api = await serveApi(port);
});
afterEach(() => api.close());

const ids = async (path: string) => {
  const res = await api.call(path, { token: VIEWER });
  expect(res.status).toBe(200);
  return (await res.json()) as { items: Array<{ hostId: string }>; nextCursor?: string };
};

describe('GET /api/v1/hosts?hosts=SELECTOR', () => {
  it.each([
    ['role=web,role=db', []],
    ['role in (web,db)', ['db-1', 'web-1', 'web-2']],
    ['role=web,!zone', ['web-2']],
    ['role notin (db)', ['web-1', 'web-2']],
    ['web-*', ['web-1', 'web-2']],
  ])('lists the hosts %s selects', async (selector, expected) => {
    const page = await ids(`/api/v1/hosts?hosts=${encodeURIComponent(selector)}`);
    expect(page.items.map((h) => h.hostId)).toEqual(expected);
  });

  it('takes the same grammar under its older name labels', async () => {
    const page = await ids(`/api/v1/hosts?labels=${encodeURIComponent('role in (db)')}`);
    expect(page.items.map((h) => h.hostId)).toEqual(['db-1']);
  });

  it('pages the selected hosts with the store cursor of the last one kept', async () => {
    const page = await ids(`/api/v1/hosts?limit=1&hosts=${encodeURIComponent('role=web')}`);
    expect(page.items.map((h) => h.hostId)).toEqual(['web-1']);
    expect(page.nextCursor).toBe(encodeCursor('hosts', ['web-1']));
  });

  it('answers 400 naming the parameter, the term, the column and the fix for bad syntax', async () => {
    const res = await api.call(`/api/v1/hosts?hosts=${encodeURIComponent('role in (web,db')}`, {
      token: VIEWER,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      "hosts: unclosed ( in 'role in (web,db' at column 9; close the set: role in (web,db)",
    );
  });
});

describe('POST /api/v1/sync {hosts: SELECTOR}', () => {
  it('syncs the connected hosts the selector picks, and audits the selector', async () => {
    const res = await api.call('/api/v1/sync', { token: OPERATOR, body: { hosts: 'role=web' } });
    expect(res.status).toBe(200);
    // web-2 matches too but is not connected.
    expect(port.synced).toEqual([['web-1']]);
    expect(port.auditRecords[0]).toMatchObject({ status: 200, detail: { hosts: 'role=web' } });
  });

  it('syncs nothing (never everything) when the selector picks no host', async () => {
    const res = await api.call('/api/v1/sync', { token: OPERATOR, body: { hosts: 'role=web,role=db' } });
    expect(res.status).toBe(200);
    expect(port.synced).toEqual([[]]);
  });

  it('answers 400 for a selector that is not a string or does not parse', async () => {
    const notText = await api.call('/api/v1/sync', { token: OPERATOR, body: { hosts: ['web-1'] } });
    expect(notText.status).toBe(400);
    const bad = await api.call('/api/v1/sync', { token: OPERATOR, body: { hosts: 'role notin web' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toBe(
      "hosts: 'role notin web' at column 12: notin takes a set in parentheses: role notin (a,b)",
    );
    expect(port.synced).toEqual([]);
  });
});

describe('DELETE /api/v1/hosts/:id', () => {
  it('deletes a disconnected host, revokes its agent and audits the call', async () => {
    const res = await api.call('/api/v1/hosts/web-2', { method: 'DELETE', token: OPERATOR });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ hostId: 'web-2', revoked: true });
    expect(port.deleted).toEqual(['web-2']);
    expect(port.agentRecords.get('web-2')?.status).toBe('revoked');
    expect(port.auditRecords).toEqual([
      {
        id: 'audit-1',
        at: new Date(T0).toISOString(),
        actor: 'ci',
        action: 'DELETE /api/v1/hosts/:id',
        target: '/api/v1/hosts/web-2',
        status: 200,
        detail: { host: 'web-2', force: false },
      },
    ]);
    expect((await ids('/api/v1/hosts')).items.map((h) => h.hostId)).toEqual(['db-1', 'web-1']);
  });

  it('refuses a connected host with 409 saying what force does, and deletes it with force=true', async () => {
    const refused = await api.call('/api/v1/hosts/web-1', { method: 'DELETE', token: OPERATOR });
    expect(refused.status).toBe(409);
    const { error } = (await refused.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('connected');
    expect(error.message).toContain('host "web-1" is connected; deleting it revokes its agent');
    expect(error.message).toContain('gsectl hosts delete web-1 --force (API: ?force=true)');
    expect(port.deleted).toEqual([]);
    expect(port.auditRecords[0]).toMatchObject({ status: 409, detail: { host: 'web-1', force: false } });

    const forced = await api.call('/api/v1/hosts/web-1?force=true', { method: 'DELETE', token: OPERATOR });
    expect(forced.status).toBe(200);
    expect(port.deleted).toEqual(['web-1']);
    expect(port.auditRecords[1]).toMatchObject({ status: 200, detail: { host: 'web-1', force: true } });
  });

  it('answers 404 for an unknown host and 400 for a force that is not a boolean', async () => {
    const unknown = await api.call('/api/v1/hosts/nope', { method: 'DELETE', token: OPERATOR });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toBe('no host "nope"');
    const bad = await api.call('/api/v1/hosts/web-2?force=yes', { method: 'DELETE', token: OPERATOR });
    expect(bad.status).toBe(400);
    expect(port.deleted).toEqual([]);
  });

  it('refuses a viewer with 403 and lets an admin delete', async () => {
    expect((await api.call('/api/v1/hosts/web-2', { method: 'DELETE', token: VIEWER })).status).toBe(403);
    expect(port.deleted).toEqual([]);
    expect((await api.call('/api/v1/hosts/web-2', { method: 'DELETE', token: ADMIN })).status).toBe(200);
    expect(port.deleted).toEqual(['web-2']);
  });
});
