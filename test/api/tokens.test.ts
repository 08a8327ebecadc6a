/**
 * Named API tokens and the audit log over a real controller and a real SQLite store: create (secret shown
 * once), list (never the hash), roles, immediate revocation, and an audit line for every mutating call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/api/auth.js';
import type { AuditRecord } from '../../src/store/types.js';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

interface Created {
  name: string;
  role: string;
  token: string;
  createdAt: string;
  createdBy: string;
}
type ErrorBody = { error: { code: string; message: string } };

const MOTD = `apiVersion: gse/v1
kind: ConfigFile
metadata: { name: motd }
spec:
  hosts: { names: ["*"] }
  path: /etc/motd
  content: "hello"
`;

describe('named API tokens and the audit log', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  const create = (name: string, role: string, token?: string) =>
    ctl.api<Created & ErrorBody>('/api/v1/tokens', { body: { name, role }, token });
  const audit = async (query = '') =>
    (await ctl.api<{ items: AuditRecord[] }>(`/api/v1/audit${query}`)).body.items;

  beforeAll(async () => {
    repo = await gitRepo({ 'fleet/motd.yaml': MOTD });
    ctl = await startController(repo.dir, { path: 'fleet' });
    await waitFor('first revision applied', async () => {
      const r = await ctl.api<{ revision: { applied: unknown } }>('/api/v1/status');
      return r.body.revision.applied;
    });
  });
  afterAll(async () => {
    await ctl?.cleanup();
    await repo?.cleanup();
  });

  it('creates a token whose secret works with its role and is stored only as a hash', async () => {
    const res = await create('ci-deploy', 'operator');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'ci-deploy', role: 'operator', createdBy: 'admin' });
    expect(res.body.token).toMatch(/^gse_[A-Za-z0-9_-]{43}$/);
    const stored = await ctl.controller.store.getToken('ci-deploy');
    expect(stored?.hash).toBe(hashToken(res.body.token));
    expect(JSON.stringify(stored)).not.toContain(res.body.token);

    expect((await ctl.api('/api/v1/status', { token: res.body.token })).status).toBe(200);
    const sync = await ctl.api<{ hosts: unknown }>('/api/v1/sync', { body: {}, token: res.body.token });
    expect(sync.status).toBe(200);
  });

  it('lists tokens with name, role, creator and last use, and never a hash or secret', async () => {
    const { body: made } = await create('lister', 'viewer');
    await ctl.api('/api/v1/status', { token: made.token });
    const list = await ctl.api<{ items: Array<Record<string, unknown>> }>('/api/v1/tokens');
    const item = list.body.items.find((t) => t.name === 'lister');
    expect(item).toMatchObject({ name: 'lister', role: 'viewer', createdBy: 'admin' });
    expect(typeof item?.lastUsedAt).toBe('string');
    expect(JSON.stringify(list.body)).not.toMatch(/hash|gse_/);
  });

  it('denies a viewer token a change, with its name in the 403, and audits the denial', async () => {
    const { body: viewer } = await create('dash', 'viewer');
    const res = await ctl.api<ErrorBody>('/api/v1/sync', { body: {}, token: viewer.token });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toBe('POST /api/v1/sync needs the operator role; token "dash" is viewer');
    const [line] = await audit('?actor=dash');
    expect(line).toMatchObject({ actor: 'dash', action: 'POST /api/v1/sync', status: 403 });
    expect(line?.detail).toMatchObject({ error: expect.stringContaining('needs the operator role') });
  });

  it('refuses a revoked token on the very next request, naming it', async () => {
    const { body: made } = await create('short-lived', 'operator');
    expect((await ctl.api('/api/v1/status', { token: made.token })).status).toBe(200);
    const revoked = await ctl.api<{ name: string; revokedAt: string }>('/api/v1/tokens/short-lived/revoke', {
      body: {},
    });
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toMatch(/^\d{4}-/);
    const after = await ctl.api<ErrorBody>('/api/v1/status', { token: made.token });
    expect(after.status).toBe(401);
    expect(after.body.error.message).toBe('token "short-lived" was revoked; ask an admin for a new one');
  });

  it('lets a revoked name be created again with a new secret, and the old secret stays dead', async () => {
    const { body: first } = await create('rotating', 'viewer');
    await ctl.api('/api/v1/tokens/rotating', { method: 'DELETE' });
    const again = await create('rotating', 'viewer');
    expect(again.status).toBe(200);
    expect(again.body.token).not.toBe(first.token);
    expect((await ctl.api('/api/v1/status', { token: first.token })).status).toBe(401);
    expect((await ctl.api('/api/v1/status', { token: again.body.token })).status).toBe(200);
  });

  it('refuses a second live token of the same name', async () => {
    await create('twice', 'viewer');
    const res = await create('twice', 'admin');
    expect(res.status).toBe(409);
    expect(res.body.error.message).toBe(
      'name: token "twice" exists; revoke it first (gsectl token revoke twice) or pick another',
    );
  });

  it('lets only admins manage tokens', async () => {
    const { body: op } = await create('op-only', 'operator');
    const res = await create('escalate', 'admin', op.token);
    expect(res.status).toBe(403);
    expect(res.body.error.message).toBe(
      'POST /api/v1/tokens needs the admin role; token "op-only" is operator',
    );
    expect(await ctl.controller.store.getToken('escalate')).toBeUndefined();
  });

  it('audits successful, refused and failed changes with the token name and the status', async () => {
    const { body: op } = await create('auditor-op', 'operator');
    await ctl.api('/api/v1/sync', { body: {}, token: op.token });
    await ctl.api('/api/v1/exec', { body: { hosts: '*' }, token: op.token });
    const lines = await audit('?actor=auditor-op');
    expect(lines.map((l) => [l.action, l.status])).toEqual([
      ['POST /api/v1/exec', 400],
      ['POST /api/v1/sync', 200],
    ]);
    const created = (await audit('?actor=admin')).find((l) => l.action === 'POST /api/v1/tokens');
    expect(created?.detail).toMatchObject({ role: expect.any(String) });
    expect(JSON.stringify(await audit())).not.toContain(op.token);
  });

  it('audits a streaming exec with its task id even though the handler writes the response itself', async () => {
    const res = await ctl.api<{ taskId: string }>('/api/v1/exec', {
      body: { hosts: '*', script: 'true', wait: false },
    });
    expect(res.status).toBe(200);
    const line = (await audit('?actor=admin')).find((l) => l.action === 'POST /api/v1/exec');
    expect(line).toMatchObject({
      status: 200,
      detail: { taskId: res.body.taskId, script: 'true', selector: '*' },
    });
  });

  it('does not audit reads, nor the read-only GSE queries', async () => {
    const before = (await audit('?limit=1000')).length;
    await ctl.api('/api/v1/hosts');
    await ctl.api('/api/v1/gse/query_route', { body: { condition: {} } });
    expect((await audit('?limit=1000')).length).toBe(before);
  });

  it('filters the audit log by actor and since, and pages it', async () => {
    const all = await audit('?limit=1000');
    const newest = all[0];
    expect(newest).toBeDefined();
    const since = await audit(`?since=${encodeURIComponent(newest?.at ?? '')}`);
    expect(since.every((l) => l.at >= (newest?.at ?? ''))).toBe(true);
    const page1 = await ctl.api<{ items: AuditRecord[]; nextCursor?: string }>('/api/v1/audit?limit=2');
    expect(page1.body.items).toHaveLength(2);
    const page2 = await ctl.api<{ items: AuditRecord[] }>(
      `/api/v1/audit?limit=2&cursor=${page1.body.nextCursor ?? ''}`,
    );
    expect(page2.body.items[0]?.id).toBe(all[2]?.id);
  });

  it('lets an operator read the audit log and not a viewer', async () => {
    const { body: viewer } = await create('audit-viewer', 'viewer');
    const { body: op } = await create('audit-operator', 'operator');
    expect((await ctl.api('/api/v1/audit', { token: viewer.token })).status).toBe(403);
    expect((await ctl.api('/api/v1/audit', { token: op.token })).status).toBe(200);
  });
});
