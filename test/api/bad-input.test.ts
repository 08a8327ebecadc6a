/**
 * Bad input is a 4xx with a message that says what was wrong, never a 500; a Git remote that is gone is a
 * 502; every response carries the security headers; /metrics can require a token. Real controller, real git.
 */
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/store/paging.js';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { errorMessage, type RawInit, rawRequest } from './raw-request.js';

const TREE = {
  'fleet/motd.yaml': `apiVersion: gse/v1
kind: ConfigFile
metadata: { name: motd }
spec:
  hosts: { names: ["*"] }
  path: /etc/motd
  content: "hello"
`,
};

async function startOn(repo: GitRepo, extra: Parameters<typeof startController>[1] = {}) {
  const ctl = await startController(repo.dir, { path: 'fleet', ...extra });
  await waitFor('first revision applied', async () => {
    const r = await ctl.api<{ revision: { applied: unknown } }>('/api/v1/status');
    return r.body.revision.applied;
  });
  return ctl;
}

interface BadInput {
  name: string;
  path: string;
  init?: RawInit;
  status: number;
  message: string | RegExp;
}

const json = (body: string, method = 'POST'): RawInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body,
});
const TWO_MIB = Buffer.alloc(2 * 1024 * 1024, 0x20);

const CASES: BadInput[] = [
  {
    name: 'malformed JSON',
    path: '/api/v1/sync',
    init: json('{"host":'),
    status: 400,
    message: /^request body is not valid JSON/,
  },
  {
    name: 'a JSON array body',
    path: '/api/v1/exec',
    init: json('[]'),
    status: 400,
    message: 'request body must be a JSON object, got an array',
  },
  {
    name: 'a JSON null body',
    path: '/api/v1/sync',
    init: json('null'),
    status: 400,
    message: 'request body must be a JSON object, got null',
  },
  {
    name: 'a JSON string body',
    path: '/api/v1/sync',
    init: json('"x"'),
    status: 400,
    message: 'request body must be a JSON object, got a string',
  },
  {
    name: 'a host that is not a string',
    path: '/api/v1/sync',
    init: json('{"host":5}'),
    status: 400,
    message: 'host: must be a host id (a string), or left out for every host',
  },
  {
    name: 'exec without a script',
    path: '/api/v1/exec',
    init: json('{"hosts":"*"}'),
    status: 400,
    message: 'script: required, the command to run',
  },
  {
    name: 'exec with a negative timeout',
    path: '/api/v1/exec',
    init: json('{"hosts":"*","script":"true","timeoutMs":-1}'),
    status: 400,
    message: 'timeoutMs: a positive number of milliseconds',
  },
  {
    name: 'a cursor that is not one',
    path: '/api/v1/hosts?cursor=garbage',
    status: 400,
    message: 'cursor: invalid cursor for hosts; pass the nextCursor of the previous page unchanged',
  },
  {
    name: "another listing's cursor",
    path: `/api/v1/executions?cursor=${encodeCursor('drift', ['1', 'x'])}`,
    status: 400,
    message: /^cursor: invalid cursor for executions/,
  },
  { name: 'an empty cursor', path: '/api/v1/revisions?cursor=', status: 400, message: /^cursor: empty/ },
  {
    name: 'a limit that is not a number',
    path: '/api/v1/hosts?limit=abc',
    status: 400,
    message: 'limit: "abc" is not a whole number from 1 (at most 1000 are returned)',
  },
  {
    name: 'a zero limit',
    path: '/api/v1/drift?limit=0',
    status: 400,
    message: /^limit: "0" is not a whole number from 1/,
  },
  { name: 'a negative limit', path: '/api/v1/executions?limit=-5', status: 400, message: /^limit: "-5"/ },
  { name: 'a fractional limit', path: '/api/v1/audit?limit=1.5', status: 400, message: /^limit: "1.5"/ },
  {
    name: 'a limit of 10^20',
    path: '/api/v1/hosts?limit=100000000000000000000',
    status: 400,
    message: /^limit: "100000000000000000000"/,
  },
  {
    name: 'a since that is a word',
    path: '/api/v1/executions?since=yesterday',
    status: 400,
    message: 'since: "yesterday" is not an ISO 8601 time, e.g. 2024-05-01T10:00:00Z',
  },
  {
    name: 'a since with month 13',
    path: '/api/v1/drift?since=2024-13-45',
    status: 400,
    message: /^since: "2024-13-45" is not an ISO 8601 time/,
  },
  {
    name: 'a since that is a bare number',
    path: '/api/v1/audit?since=5',
    status: 400,
    message: /^since: "5" is not an ISO 8601 time/,
  },
  {
    name: 'a healed that is not a boolean',
    path: '/api/v1/drift?healed=maybe',
    status: 400,
    message: 'healed: "maybe" is not true or false',
  },
  {
    name: 'an unknown sync state',
    path: '/api/v1/hosts?syncState=Bogus',
    status: 400,
    message: /^syncState: "Bogus" is not one of Synced/,
  },
  {
    name: 'a label selector with a bare !',
    path: '/api/v1/hosts?labels=%21%21',
    status: 400,
    message: /^labels: '!' at column 1 needs a label key: write !canary/,
  },
  { name: 'an unknown host', path: '/api/v1/hosts/nope', status: 404, message: 'no host "nope"' },
  {
    name: 'a diff of an unknown host',
    path: '/api/v1/diff?host=nope',
    status: 404,
    message: 'no host "nope"',
  },
  {
    name: 'a sync of an unknown host',
    path: '/api/v1/sync',
    init: json('{"host":"nope"}'),
    status: 404,
    message: 'no host "nope"',
  },
  {
    name: 'approving an unknown agent',
    path: '/api/v1/agents/nope/approve',
    init: json('{}'),
    status: 404,
    message: 'agent nope is not enrolled',
  },
  {
    name: 'revoking an unknown agent',
    path: '/api/v1/agents/nope/revoke',
    init: json('{}'),
    status: 404,
    message: 'agent nope is not enrolled',
  },
  {
    name: 'revoking an unknown token',
    path: '/api/v1/tokens/nope/revoke',
    init: json('{}'),
    status: 404,
    message: 'no token "nope"; gsectl token list shows them',
  },
  { name: 'an unknown route', path: '/api/v1/nothing', status: 404, message: 'no route GET /api/v1/nothing' },
  { name: 'an unknown top-level path', path: '/wp-admin', status: 404, message: 'no route GET /wp-admin' },
  {
    name: 'a method the path does not take',
    path: '/api/v1/status',
    init: { method: 'DELETE' },
    status: 405,
    message: 'DELETE is not allowed on /api/v1/status',
  },
  {
    name: 'broken percent-encoding in an id',
    path: '/api/v1/hosts/%E0%A4%A',
    status: 400,
    message: 'id: "%E0%A4%A" is not valid percent-encoding',
  },
  {
    name: 'a body over 1 MiB (Content-Length)',
    path: '/api/v1/sync',
    init: { method: 'POST', body: TWO_MIB },
    status: 413,
    message: /^request body over 1048576 bytes/,
  },
  {
    name: 'a body over 1 MiB (chunked)',
    path: '/api/v1/exec',
    init: { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, body: TWO_MIB },
    status: 413,
    message: /^request body over 1048576 bytes/,
  },
  {
    name: 'a token with an unknown role',
    path: '/api/v1/tokens',
    init: json('{"name":"ci","role":"root"}'),
    status: 400,
    message: 'role: "root"; one of viewer, operator, admin',
  },
  {
    name: 'a token name with a slash',
    path: '/api/v1/tokens',
    init: json('{"name":"a/b","role":"viewer"}'),
    status: 400,
    message: /^name: "a\/b" is 1-64 characters/,
  },
  {
    name: 'a token without a name',
    path: '/api/v1/tokens',
    init: json('{"role":"viewer"}'),
    status: 400,
    message: /^name: required, 1-64 characters/,
  },
  {
    name: 'a token named like the flag admin token',
    path: '/api/v1/tokens',
    init: json('{"name":"admin","role":"viewer"}'),
    status: 409,
    message: 'name: "admin" is reserved for the token given to gsectl serve; pick another',
  },
  {
    name: 'revoking the flag admin token',
    path: '/api/v1/tokens/admin/revoke',
    init: json('{}'),
    status: 400,
    message: /^token "admin" comes from a serve flag \(--admin-token\)/,
  },
];

describe('API bad input', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  const auth = () => ({ authorization: `Bearer ${'test-admin-token-0123456789abcdef'}` });

  beforeAll(async () => {
    repo = await gitRepo(TREE);
    ctl = await startOn(repo);
  });
  afterAll(async () => {
    await ctl?.cleanup();
    await repo?.cleanup();
  });

  it.each(CASES)(
    'answers $status with a message when given $name',
    async ({ path, init, status, message }) => {
      const res = await rawRequest(ctl, path, { ...init, headers: { ...auth(), ...init?.headers } });
      expect(res.status).toBe(status);
      const text = errorMessage(res.json);
      if (typeof message === 'string') expect(text).toBe(message);
      else expect(text).toMatch(message);
    },
  );

  it('caps a limit over 1000 instead of refusing it', async () => {
    const res = await ctl.api<{ items: unknown[] }>('/api/v1/revisions?limit=5000');
    expect(res.status).toBe(200);
    expect(res.body.items.length).toBeGreaterThan(0);
  });

  it('still serves the API after every bad input', async () => {
    const res = await ctl.api<{ lifecycle: string }>('/api/v1/status');
    expect(res.status).toBe(200);
    expect(res.body.lifecycle).toBe('running');
  });

  it('sends the security headers on JSON, error and dashboard responses', async () => {
    for (const path of ['/api/v1/status', '/api/v1/nothing', '/healthz', '/']) {
      const res = await rawRequest(ctl, path, { headers: auth() });
      expect(res.headers['x-frame-options'], path).toBe('DENY');
      expect(res.headers['x-content-type-options'], path).toBe('nosniff');
      expect(res.headers['referrer-policy'], path).toBe('no-referrer');
      expect(res.headers['content-security-policy'], path).toContain("frame-ancestors 'none'");
    }
  });

  it("allows the dashboard's own inline script and style by hash, and nothing inline else", async () => {
    const res = await rawRequest(ctl, '/');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("default-src 'none'");
    const script = /<script>([\s\S]*?)<\/script>/.exec(res.text)?.[1] ?? '';
    const style = /<style>([\s\S]*?)<\/style>/.exec(res.text)?.[1] ?? '';
    const hash = (t: string) => `'sha256-${createHash('sha256').update(t).digest('base64')}'`;
    expect(csp).toContain(`script-src ${hash(script)}`);
    expect(csp).toContain(`style-src ${hash(style)}`);
    // Inline style or handler attributes would be blocked by this policy: the page must have none.
    expect(res.text).not.toMatch(/\sstyle="|\son[a-z]+="/);
  });

  it('serves /metrics without a token when no --metrics-token is set', async () => {
    const res = await rawRequest(ctl, '/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toContain('gse_agent_connections');
  });
});

describe('API with --metrics-token', () => {
  const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
  let repo: GitRepo;
  let ctl: RunningController;

  beforeAll(async () => {
    repo = await gitRepo(TREE);
    ctl = await startOn(repo, { metricsToken: METRICS_TOKEN });
  });
  afterAll(async () => {
    await ctl?.cleanup();
    await repo?.cleanup();
  });

  it('refuses /metrics without the token or with another, and serves it with the token', async () => {
    const none = await rawRequest(ctl, '/metrics');
    expect(none.status).toBe(401);
    expect(errorMessage(none.json)).toBe('/metrics needs the --metrics-token as a bearer token');
    const admin = await rawRequest(ctl, '/metrics', {
      headers: { authorization: 'Bearer test-admin-token-0123456789abcdef' },
    });
    expect(admin.status).toBe(401);
    const ok = await rawRequest(ctl, '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('gse_agent_connections');
    expect((await rawRequest(ctl, '/healthz')).status).toBe(200);
  });
});

describe('API when the git remote is gone', () => {
  let repo: GitRepo;
  let ctl: RunningController;

  beforeAll(async () => {
    repo = await gitRepo(TREE);
    ctl = await startOn(repo);
  });
  afterAll(async () => {
    await ctl?.cleanup();
    await repo?.cleanup();
  });

  it('answers POST /api/v1/sync with 502 naming the fetch failure, and keeps serving', async () => {
    await rm(repo.dir, { recursive: true, force: true });
    const res = await ctl.api<{ error: { code: string; message: string } }>('/api/v1/sync', { body: {} });
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('git_unavailable');
    expect(res.body.error.message).toMatch(/^git: fetch .* \(branch main\) failed: /);
    const status = await ctl.api<{ revision: { applied: { sha: string } | null } }>('/api/v1/status');
    expect(status.status).toBe(200);
    expect(status.body.revision.applied?.sha).toMatch(/^[0-9a-f]{40}$/);
  });
});
