import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const motd = (text: string) => `apiVersion: gse/v1
kind: ConfigFile
metadata: { name: motd }
spec:
  hosts: { names: ["*"] }
  path: /etc/motd
  content: "${text}"
`;

interface StatusBody {
  revision: {
    applied: { sha: string; status: string } | null;
    lastRejected: {
      sha: string;
      errors: Array<{ file: string; line: number; path: string; message: string }>;
    } | null;
  };
}

describe('controller on a real git repo', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let first: string;

  beforeAll(async () => {
    repo = await gitRepo({ 'fleet/motd.yaml': motd('hello') });
    first = await repo.head();
    ctl = await startController(repo.dir, { path: 'fleet', viewerToken: 'viewer-token-0123456789' });
    await waitFor(
      'first revision applied',
      async () => (await ctl.api<StatusBody>('/api/v1/status')).body.revision.applied,
    );
  });
  afterAll(async () => {
    await ctl?.cleanup();
    await repo?.cleanup();
  });

  it('applies the head commit of the branch', async () => {
    const { body } = await ctl.api<StatusBody>('/api/v1/status');
    expect(body.revision.applied?.sha).toBe(first);
    expect(body.revision.lastRejected).toBeNull();
  });

  it('rejects an invalid commit with every error and keeps the last good revision', async () => {
    const bad = await repo.commit(
      {
        'fleet/route.yaml':
          'apiVersion: gse/v1\nkind: Route\nmetadata: { name: r }\nspec:\n  channel: events\n  targets: [{ name: nowhere }]\n',
      },
      'broken route',
    );
    await ctl.api('/api/v1/hooks/git', { method: 'POST' });
    const { body } = await waitFor('rejection recorded', async () => {
      const r = await ctl.api<StatusBody>('/api/v1/status');
      return r.body.revision.lastRejected?.sha === bad ? r : undefined;
    });
    expect(body.revision.applied?.sha).toBe(first);
    expect(body.revision.lastRejected?.errors).toEqual([
      expect.objectContaining({
        file: 'route.yaml',
        line: 6,
        path: 'spec.targets[0].name',
        message: expect.stringContaining('no StreamTarget "nowhere"'),
      }),
    ]);
    expect(ctl.controller.reconciler.current?.id).toBe(first);
  });

  it('applies the next good commit, picked up by the local ref watch without a webhook', async () => {
    const good = await repo.commit(
      { 'fleet/route.yaml': null, 'fleet/motd.yaml': motd('hello again') },
      'fix',
    );
    await waitFor(
      'good commit applied',
      async () => (await ctl.api<StatusBody>('/api/v1/status')).body.revision.applied?.sha === good,
    );
    const { body } = await ctl.api<StatusBody>('/api/v1/status');
    expect(body.revision.lastRejected).toBeNull();
  });

  it('refuses API calls without a token, and changes from a viewer', async () => {
    expect((await ctl.api('/api/v1/status', { token: 'wrong' })).status).toBe(401);
    expect((await ctl.api('/api/v1/status', { token: 'viewer-token-0123456789' })).status).toBe(200);
    const sync = await ctl.api<{ error: { message: string } }>('/api/v1/sync', {
      method: 'POST',
      body: {},
      token: 'viewer-token-0123456789',
    });
    expect(sync.status).toBe(403);
    expect(sync.body.error.message).toContain('needs the operator role');
  });

  it('answers GSE status calls in the GSE envelope', async () => {
    const res = await ctl.api<{ result: boolean; code: number; data: Record<string, unknown> }>(
      '/api/v1/gse/get_agent_status',
      {
        body: { hosts: [{ ip: '10.1.1.1', bk_cloud_id: 0 }] },
      },
    );
    expect(res.body).toEqual({
      result: true,
      code: 0,
      message: 'success',
      data: { '0:10.1.1.1': { ip: '10.1.1.1', bk_cloud_id: 0, bk_agent_alive: 0 } },
      request_id: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
  });

  it('serves metrics and health without a token', async () => {
    const { text } = await ctl.request('/metrics');
    expect(text).toContain('gse_revisions_total{status="rejected"} 1');
    expect(text).toContain('gse_hosts{state="Synced"} 0');
    expect(text).toMatch(/^gse_git_fetches_total [1-9]\d*$/m);
    expect(text).toMatch(/^gse_git_last_fetch_seconds \d/m);
    expect(text).toContain('gse_agent_connections 0');
    expect((await ctl.request('/healthz')).status).toBe(200);
    expect((await ctl.request('/readyz')).status).toBe(200);
  });
});
