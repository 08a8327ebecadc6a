/**
 * `gsectl token create|list|revoke` and `gsectl get audit`: the built CLI as a child process against a
 * real controller (GSE_SERVER / GSE_TOKEN, and GSE_CA when the test controller serves TLS).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sinceToIso } from '../../src/cli/commands/get.js';
import { GSECTL_MAIN } from '../helpers/agent-process.js';
import {
  httpCall,
  type RunningController,
  startController,
  TEST_ADMIN_TOKEN,
  waitFor,
} from '../helpers/controller.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const GSECTL_TIMEOUT_MS = 30_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('gsectl token and get audit', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let caDir: string;
  let caEnv: Record<string, string> = {};

  function gsectl(args: string[], token = TEST_ADMIN_TOKEN): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [GSECTL_MAIN, ...args], {
        env: { ...process.env, GSE_SERVER: ctl.url, GSE_TOKEN: token, ...caEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
      });
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
      });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`gsectl ${args.join(' ')} did not finish: ${stderr}`));
      }, GSECTL_TIMEOUT_MS);
      child.once('error', reject);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  beforeAll(async () => {
    repo = await gitRepo({ 'fleet/a.yaml': '' });
    ctl = await startController(repo.dir, { path: 'fleet' });
    caDir = await mkdtemp(join(tmpdir(), 'gse-ca-'));
    if (ctl.ca) {
      await writeFile(join(caDir, 'ca.pem'), ctl.ca);
      caEnv = { GSE_CA: join(caDir, 'ca.pem') };
    }
    await waitFor('controller serving', async () => (await ctl.api('/api/v1/status')).status === 200);
  });
  afterAll(async () => {
    await ctl?.cleanup();
    await repo?.cleanup();
    await rm(caDir, { recursive: true, force: true });
  });

  it('creates a token, prints the secret once on stdout, lists it without the secret, and revokes it', async () => {
    const created = await gsectl(['token', 'create', '--name', 'cli-ci', '--role', 'operator']);
    expect(created.code, created.stderr).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^gse_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain('token "cli-ci" (operator) created; it is shown only once');

    const status = await gsectl(['status', '-o', 'json'], secret);
    expect(status.code, status.stderr).toBe(0);

    const list = await gsectl(['token', 'list', '-o', 'json']);
    const items = (JSON.parse(list.stdout) as { items: Array<Record<string, unknown>> }).items;
    expect(items.find((t) => t.name === 'cli-ci')).toMatchObject({ role: 'operator', createdBy: 'admin' });
    expect(list.stdout).not.toContain(secret);

    const revoke = await gsectl(['token', 'revoke', 'cli-ci']);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(revoke.stdout).toMatch(/^cli-ci: revoked at \d{4}-/);
    const denied = await gsectl(['status'], secret);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('token "cli-ci" was revoked');
  });

  it('creates a token with a GSE app code that a bk_app_code/bk_app_secret call then authenticates as', async () => {
    const created = await gsectl([
      'token',
      'create',
      '--name',
      'cli-bk',
      '--role',
      'viewer',
      '--app-code',
      'bk_cli',
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toContain('token "cli-bk" (viewer, bk_app_code bk_cli) created');
    const secret = created.stdout.trim();
    const call = (appSecret: string) =>
      httpCall(`${ctl.url}/api/c/compapi/v2/gse/list_agent_state/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          bk_app_code: 'bk_cli',
          bk_app_secret: appSecret,
          agent_id_list: ['0:10.1.1.1'],
        }),
        ...(ctl.ca ? { ca: ctl.ca } : {}),
      });
    const ok = await call(secret);
    // Authenticated; no such agent, so GSE's "none found" code.
    expect(JSON.parse(ok.text)).toMatchObject({ result: false, code: 1011003 });
    const denied = await call(`${secret}x`);
    expect(denied.status).toBe(401);
    expect(JSON.parse(denied.text)).toMatchObject({ result: false, code: 1000401 });

    const list = await gsectl(['token', 'list', '-o', 'json']);
    const items = (JSON.parse(list.stdout) as { items: Array<Record<string, unknown>> }).items;
    expect(items.find((t) => t.name === 'cli-bk')).toMatchObject({ appCode: 'bk_cli' });
    const bad = await gsectl([
      'token',
      'create',
      '--name',
      'cli-bad',
      '--role',
      'viewer',
      '--app-code',
      'no spaces',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('appCode: "no spaces" is 1-64 characters');
  });

  it('shows the audit log filtered by actor and a relative since', async () => {
    await gsectl(['token', 'create', '--name', 'cli-audit', '--role', 'viewer']);
    const run = await gsectl(['get', 'audit', '--actor', 'admin', '--since', '1h', '-o', 'json']);
    expect(run.code, run.stderr).toBe(0);
    const items = (JSON.parse(run.stdout) as { items: Array<{ actor: string; action: string }> }).items;
    expect(items.length).toBeGreaterThan(0);
    expect(items.every((i) => i.actor === 'admin')).toBe(true);
    expect(items.map((i) => i.action)).toContain('POST /api/v1/tokens');
  });

  it('exits 2 with the usage when token create lacks --role', async () => {
    const run = await gsectl(['token', 'create', '--name', 'x']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--name and --role are required');
  });

  it('turns a duration into an ISO time back from now, and passes an ISO time through', () => {
    const now = Date.parse('2024-05-01T12:00:00.000Z');
    expect(sinceToIso('1h', now)).toBe('2024-05-01T11:00:00.000Z');
    expect(sinceToIso('2024-04-01T00:00:00Z', now)).toBe('2024-04-01T00:00:00Z');
  });
});
