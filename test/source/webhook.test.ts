import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseGitWebhook, type WebhookHeaders, type WebhookResult } from '../../src/source/index.js';

const SECRET = 's3cret';
const SHA = 'bffeb74224043ba2feb48d137756c8a9331c449a';
const push = (ref = 'refs/heads/main') =>
  JSON.stringify({ ref, after: SHA, repository: { full_name: 'ops/fleet' }, commits: [] });
const gitlabPush = (ref = 'refs/heads/main') =>
  JSON.stringify({ object_kind: 'push', ref, after: SHA, project: { path_with_namespace: 'ops/fleet' } });
const hmac = (body: string, secret = SECRET) => createHmac('sha256', secret).update(body).digest('hex');

interface Case {
  name: string;
  headers: WebhookHeaders;
  body: string;
  secret?: string;
  expected: WebhookResult | { ok: false; status: number; ignored?: true };
}

const accepted = (provider: string, withRepo = true): WebhookResult =>
  ({
    ok: true,
    event: { provider, ref: 'refs/heads/main', after: SHA, ...(withRepo ? { repository: 'ops/fleet' } : {}) },
  }) as WebhookResult;

const cases: Case[] = [
  {
    name: 'a GitHub push with a valid signature',
    headers: { 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac(push())}` },
    body: push(),
    secret: SECRET,
    expected: accepted('github'),
  },
  {
    name: 'a GitHub push with a signature made with another secret',
    headers: { 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac(push(), 'other')}` },
    body: push(),
    secret: SECRET,
    expected: { ok: false, status: 401 },
  },
  {
    name: 'a GitHub push whose body was altered after signing',
    headers: { 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac(push())}` },
    body: push('refs/heads/evil'),
    secret: SECRET,
    expected: { ok: false, status: 401 },
  },
  {
    name: 'a GitHub push without a signature while a secret is set',
    headers: { 'X-GitHub-Event': 'push' },
    body: push(),
    secret: SECRET,
    expected: { ok: false, status: 401 },
  },
  {
    name: 'a GitHub push without a signature and no secret',
    headers: { 'X-GitHub-Event': 'push' },
    body: push(),
    expected: accepted('github'),
  },
  {
    name: 'a GitHub form-encoded push',
    headers: {
      'x-github-event': 'push',
      'content-type': 'application/x-www-form-urlencoded',
      'x-hub-signature-256': `sha256=${hmac(`payload=${encodeURIComponent(push())}`)}`,
    },
    body: `payload=${encodeURIComponent(push())}`,
    secret: SECRET,
    expected: accepted('github'),
  },
  {
    name: 'a GitHub ping',
    headers: { 'x-github-event': 'ping', 'x-hub-signature-256': `sha256=${hmac('{"zen":"x"}')}` },
    body: '{"zen":"x"}',
    secret: SECRET,
    expected: { ok: false, status: 202, ignored: true },
  },
  {
    name: 'a GitHub push to another branch',
    headers: { 'x-github-event': 'push' },
    body: push('refs/heads/dev'),
    expected: { ok: false, status: 202, ignored: true },
  },
  {
    name: 'a GitHub tag push',
    headers: { 'x-github-event': 'push' },
    body: push('refs/tags/v1'),
    expected: { ok: false, status: 202, ignored: true },
  },
  {
    name: 'a GitHub push with malformed JSON',
    headers: { 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac('{"ref":')}` },
    body: '{"ref":',
    secret: SECRET,
    expected: { ok: false, status: 400 },
  },
  {
    name: 'a GitHub push whose body is a JSON array',
    headers: { 'x-github-event': 'push' },
    body: '[]',
    expected: { ok: false, status: 400 },
  },
  {
    name: 'a GitHub push without a ref',
    headers: { 'x-github-event': 'push' },
    body: JSON.stringify({ after: SHA }),
    expected: { ok: false, status: 400 },
  },
  {
    name: 'a GitLab push with the right token',
    headers: { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET },
    body: gitlabPush(),
    secret: SECRET,
    expected: accepted('gitlab'),
  },
  {
    name: 'a GitLab push with a wrong token',
    headers: { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': 'guess' },
    body: gitlabPush(),
    secret: SECRET,
    expected: { ok: false, status: 401 },
  },
  {
    name: 'a GitLab tag push',
    headers: { 'x-gitlab-event': 'Tag Push Hook', 'x-gitlab-token': SECRET },
    body: gitlabPush('refs/tags/v1'),
    secret: SECRET,
    expected: { ok: false, status: 202, ignored: true },
  },
  {
    name: 'a Gitea push with a valid signature (and the GitHub headers Gitea also sends)',
    headers: {
      'x-gitea-event': 'push',
      'x-github-event': 'push',
      'x-gitea-signature': hmac(push()),
    },
    body: push(),
    secret: SECRET,
    expected: accepted('gitea'),
  },
  {
    name: 'a Gitea push with a wrong signature',
    headers: { 'x-gitea-event': 'push', 'x-gitea-signature': hmac(push(), 'other') },
    body: push(),
    secret: SECRET,
    expected: { ok: false, status: 401 },
  },
  {
    name: 'a plain POST with an empty body and the bearer secret',
    headers: { authorization: `Bearer ${SECRET}` },
    body: '',
    secret: SECRET,
    expected: { ok: true, event: { provider: 'plain' } },
  },
  {
    name: 'a plain POST with a wrong bearer',
    headers: { authorization: 'Bearer nope' },
    body: '',
    secret: SECRET,
    expected: { ok: false, status: 401 },
  },
  {
    name: 'a plain POST without credentials while a secret is set',
    headers: {},
    body: 'anything',
    secret: SECRET,
    expected: { ok: false, status: 401 },
  },
  {
    name: 'a plain POST with a GitHub-style signature',
    headers: { 'x-hub-signature-256': `sha256=${hmac('hello')}` },
    body: 'hello',
    secret: SECRET,
    expected: { ok: true, event: { provider: 'plain' } },
  },
  {
    name: 'a plain POST with any body and no secret configured',
    headers: {},
    body: 'not json {',
    expected: { ok: true, event: { provider: 'plain' } },
  },
  {
    name: 'a plain POST naming another branch',
    headers: { authorization: `Bearer ${SECRET}` },
    body: JSON.stringify({ ref: 'refs/heads/dev' }),
    secret: SECRET,
    expected: { ok: false, status: 202, ignored: true },
  },
  {
    name: 'an empty secret, which counts as none',
    headers: {},
    body: '',
    secret: '',
    expected: { ok: true, event: { provider: 'plain' } },
  },
];

describe('parseGitWebhook', () => {
  const table = cases.map((c) => ({ ...c, outcome: c.expected.ok ? 'ok' : `${c.expected.status}` }));

  it.each(table)('returns $outcome when given $name', ({ headers, body, secret, expected }) => {
    const result = parseGitWebhook(headers, body, secret, { branch: 'main' });

    if (expected.ok) {
      expect(result).toEqual(expected);
    } else {
      expect(result).toMatchObject(expected);
      expect(result.ok === false && result.message.length > 0).toBe(true);
    }
  });

  it('accepts a push to any branch when no branch is given', () => {
    const result = parseGitWebhook({ 'x-github-event': 'push' }, push('refs/heads/dev'));

    expect(result).toMatchObject({ ok: true, event: { ref: 'refs/heads/dev' } });
  });

  it('reads headers from a fetch-style Headers object and a Buffer body', () => {
    const body = Buffer.from(push());
    const headers = new Headers({
      'X-GitHub-Event': 'push',
      'X-Hub-Signature-256': `sha256=${hmac(push())}`,
    });

    expect(parseGitWebhook(headers, body, SECRET, { branch: 'main' })).toEqual(accepted('github'));
  });

  it('names the failing check in the message when the signature is wrong', () => {
    const result = parseGitWebhook(
      { 'x-github-event': 'push', 'x-hub-signature-256': 'sha256=00' },
      push(),
      SECRET,
    );

    expect(result).toEqual({
      ok: false,
      status: 401,
      message: 'github: X-Hub-Signature-256 missing or wrong',
    });
  });
});
