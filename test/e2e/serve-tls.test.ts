/**
 * `gsectl serve` with TLS flags, run as the built CLI: it serves HTTPS/WSS from the given certificate, and
 * refuses half or unreadable TLS configuration with the flag and file named instead of serving plain HTTP.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GSECTL_MAIN } from '../helpers/agent-process.js';
import { httpCall, TEST_ADMIN_TOKEN, TEST_BOOTSTRAP_TOKEN, waitFor } from '../helpers/controller.js';
import { configFileYaml } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { freePort } from '../helpers/redis-server.js';
import { type TestCa, testCa } from '../helpers/tls.js';

interface Served {
  code: Promise<number | null>;
  stderr(): string;
  stdout(): string;
  kill(): void;
}

function serve(args: string[]): Served {
  const child = spawn(
    process.execPath,
    [
      GSECTL_MAIN,
      'serve',
      '--bootstrap-token',
      TEST_BOOTSTRAP_TOKEN,
      '--admin-token',
      TEST_ADMIN_TOKEN,
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  return {
    code: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    stderr: () => err,
    stdout: () => out,
    kill: () => child.kill('SIGTERM'),
  };
}

describe('gsectl serve with --tls-cert/--tls-key', () => {
  let repo: GitRepo;
  let work: string;
  let ca: TestCa;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'gse-serve-tls-'));
    ca = await testCa();
    repo = await gitRepo({
      'app.yaml': configFileYaml({ name: 'app', path: '/etc/app.conf', content: 'x\n' }),
    });
  });
  afterAll(async () => {
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('serves the API over HTTPS and logs https/wss URLs when given a certificate and key', async () => {
    const port = await freePort();
    const s = serve([
      '--repo',
      repo.dir,
      '--state-dir',
      join(work, 'ok'),
      '--listen',
      `127.0.0.1:${port}`,
      '--tls-cert',
      ca.certFile,
      '--tls-key',
      ca.keyFile,
    ]);
    try {
      const res = await waitFor('the TLS controller to answer', () =>
        httpCall(`https://127.0.0.1:${port}/healthz`, { ca: ca.caPem }).then((r) => r.status === 200 && r),
      );
      expect(res.status).toBe(200);
      // The start-up line comes once the first fetch is done, which can be after /healthz answers.
      const log = await waitFor('the start-up log line', () => {
        const text = s.stdout() + s.stderr();
        return text.includes('controller running') && text;
      });
      expect(log).toContain(`"agents":"wss://127.0.0.1:${port}/agent"`);
      expect(log).toContain(`"api":"https://127.0.0.1:${port}/api/v1"`);
    } finally {
      s.kill();
      await s.code;
    }
  });

  it('warns that tokens cross the network in clear when it serves plain HTTP on a non-loopback address', async () => {
    const port = await freePort();
    const s = serve(['--repo', repo.dir, '--state-dir', join(work, 'plain'), '--listen', `0.0.0.0:${port}`]);
    try {
      const log = await waitFor('the start-up log line', () => {
        const text = s.stdout() + s.stderr();
        return text.includes('controller running') && text;
      });
      expect(log).toContain('"tls":false');
      const warning = await waitFor('the plain-HTTP warning', () => {
        const text = s.stdout() + s.stderr();
        return text.includes('serving plain HTTP') && text;
      });
      expect(warning).toContain('pass --tls-cert FILE --tls-key FILE');
    } finally {
      s.kill();
      await s.code;
    }
  });

  it.each([
    {
      name: 'a certificate without a key',
      extra: (c: TestCa) => ['--tls-cert', c.certFile],
      error: '--tls-key: TLS needs both --tls-cert FILE and --tls-key FILE',
    },
    {
      name: 'an unreadable key file',
      extra: (c: TestCa) => ['--tls-cert', c.certFile, '--tls-key', '/nonexistent/server.key'],
      error: '--tls-key: cannot read /nonexistent/server.key',
    },
    {
      name: 'a key that is not PEM',
      extra: (c: TestCa) => ['--tls-cert', c.certFile, '--tls-key', c.caFile],
      error: '--tls-cert: ',
    },
  ])('exits 1 naming the flag when given $name', async ({ extra, error }) => {
    const port = await freePort();
    const s = serve([
      '--repo',
      repo.dir,
      '--state-dir',
      join(work, 'bad'),
      '--listen',
      `127.0.0.1:${port}`,
      ...extra(ca),
    ]);
    expect(await s.code).toBe(1);
    expect(s.stderr()).toContain(`gsectl: ${error}`);
  });
});
