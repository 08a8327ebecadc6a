/**
 * Issue #9, "repo content is data": a committer cannot reach the controller machine (its files, its
 * environment, its event loop) or push hosts around through what they commit. Each case commits an
 * attack to a real git repo followed by a real controller with real agents, asserts the refusal and its
 * message, and that the fleet kept working on the last good revision.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, GSECTL_MAIN, startAgentProcess } from '../helpers/agent-process.js';
import {
  type RunningController,
  startController,
  TEST_ADMIN_TOKEN,
  TEST_BOOTSTRAP_TOKEN,
  waitFor,
} from '../helpers/controller.js';
import { configFileYaml, type StatusBody, waitApplied, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { freePort } from '../helpers/redis-server.js';

const GROUPS = `apiVersion: gse/v1
kind: HostGroup
metadata: { name: web }
spec:
  match: { names: ["web-*"] }
  labels: { role: web }
---
apiVersion: gse/v1
kind: HostGroup
metadata: { name: db }
spec:
  match: { names: ["db-*"] }
  labels: { role: db }
`;

const BASE = {
  'fleet/groups.yaml': GROUPS,
  'fleet/motd.yaml': configFileYaml({ name: 'motd', path: '/etc/motd', content: 'hello\n' }),
};

/** A ConfigFile document selecting `hosts` (a YAML flow mapping), other fields as YAML lines. */
function configFile(name: string, hosts: string, ...lines: string[]): string {
  return [
    'apiVersion: gse/v1',
    'kind: ConfigFile',
    `metadata: { name: ${name} }`,
    'spec:',
    `  hosts: ${hosts}`,
    `  path: /etc/${name}.conf`,
    ...lines.map((l) => `  ${l}`),
    '',
  ].join('\n');
}

/** A Redis StreamTarget whose `redis` block has the given extra lines. */
function redisTarget(url: string, ...lines: string[]): string {
  return [
    'apiVersion: gse/v1',
    'kind: StreamTarget',
    'metadata: { name: sink }',
    'spec:',
    '  redis:',
    `    url: ${url}`,
    '    key: gse:events',
    ...lines.map((l) => `    ${l}`),
    '',
  ].join('\n');
}

type Rejection = NonNullable<StatusBody['revision']['lastRejected']>;

describe('repo content is data (issue #9 items 1-4, 5, 8, 14)', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let web: AgentProcess;
  let db: AgentProcess;
  let good: string;

  /** Commits `files`, pokes the controller, and returns the rejection recorded for that commit. */
  async function commitRejected(files: Record<string, string | null>): Promise<Rejection> {
    const sha = await repo.commit(files, 'attack');
    await ctl.api('/api/v1/hooks/git', { method: 'POST' });
    return waitFor(`rejection of ${sha.slice(0, 12)}`, async () => {
      const { body } = await ctl.api<StatusBody>('/api/v1/status');
      return body.revision.lastRejected?.sha === sha ? body.revision.lastRejected : undefined;
    });
  }

  /** Commits `files` (a fix or a new good state), waits until applied and both hosts are Synced on it. */
  async function commitGood(files: Record<string, string | null>): Promise<string> {
    const sha = await repo.commit(files, 'good');
    await ctl.api('/api/v1/hooks/git', { method: 'POST' });
    await waitApplied(ctl, sha);
    // Not `sha`: a host whose manifest did not change (a fix back to the same state) keeps its revision.
    await waitSynced(ctl, ['web-1', 'db-1']);
    good = sha;
    return sha;
  }

  /** The fleet kept working: the last good revision is applied, both hosts Synced on it, motd in place. */
  async function fleetStillWorks(): Promise<void> {
    const { body } = await ctl.api<StatusBody>('/api/v1/status');
    expect(body.revision.applied?.sha).toBe(good);
    await waitSynced(ctl, ['web-1', 'db-1']);
    expect(await web.read('/etc/motd')).toBe('hello\n');
    expect(await db.read('/etc/motd')).toBe('hello\n');
  }

  beforeAll(async () => {
    repo = await gitRepo(BASE);
    good = await repo.head();
    ctl = await startController(repo.dir, { path: 'fleet', secretEnv: ['REDIS_PW'] });
    await waitApplied(ctl, good);
    web = await startAgentProcess({ controllerUrl: ctl.agentUrl, name: 'web-1', labels: 'canary=true' });
    // db-1's agent lies: it claims to be a web host.
    db = await startAgentProcess({ controllerUrl: ctl.agentUrl, name: 'db-1', labels: 'role=web' });
    await waitSynced(ctl, ['web-1', 'db-1'], good);
  });
  afterAll(async () => {
    await web?.cleanup();
    await db?.cleanup();
    await ctl?.cleanup();
    await repo?.cleanup();
  });

  it('item 1: refuses a ConfigFile source when it is a symlink to /proc/self/cmdline', async () => {
    await symlink('/proc/self/cmdline', join(repo.dir, 'fleet/leak'));
    const rejected = await commitRejected({
      'fleet/leak.yaml': configFile('leak', '{ names: ["*"] }', 'source: leak'),
    });
    expect(rejected.errors).toEqual([
      expect.objectContaining({
        file: 'leak.yaml',
        line: 7,
        path: 'spec.source',
        message: expect.stringContaining('"leak" is a symlink (-> /proc/self/cmdline)'),
      }),
    ]);
    const status = JSON.stringify((await ctl.api('/api/v1/status')).body);
    expect(status).not.toContain(TEST_ADMIN_TOKEN);
    await expect(web.read('/etc/leak.conf')).rejects.toThrow(/ENOENT/);
    await fleetStillWorks();
    await commitGood({ 'fleet/leak.yaml': null, 'fleet/leak': null });
  });

  it('item 2: refuses a secret reference to GSE_ADMIN_TOKEN when only REDIS_PW is allowed', async () => {
    const rejected = await commitRejected({
      'fleet/sink.yaml': redisTarget('redis://127.0.0.1:1/0', 'passwordFrom: { env: GSE_ADMIN_TOKEN }'),
    });
    expect(rejected.errors).toEqual([
      expect.objectContaining({
        file: 'sink.yaml',
        path: 'spec.redis.passwordFrom',
        message: expect.stringContaining(
          'secret env "GSE_ADMIN_TOKEN" is not allowed on this controller (allowed: env REDIS_PW; no files (no --secret-dir))',
        ),
      }),
    ]);
    await fleetStillWorks();
  });

  it('item 2: refuses a secret file reference when the controller has no --secret-dir', async () => {
    const rejected = await commitRejected({
      'fleet/sink.yaml': redisTarget('redis://127.0.0.1:1/0', 'passwordFrom: { file: /etc/passwd }'),
    });
    expect(rejected.errors[0]?.message).toContain(
      'secret file "/etc/passwd" is not allowed: this controller has no --secret-dir',
    );
    await fleetStillWorks();
  });

  it('item 2: refuses credentials when they sit inside a URL or under a secret-looking key', async () => {
    const rejected = await commitRejected({
      'fleet/sink.yaml': redisTarget('redis://:hunter2@127.0.0.1:1/0', 'apiKey: abc123'),
    });
    expect(rejected.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      expect.stringMatching(/^spec\.redis\.url: URL carries a password; remove it from the URL/),
      expect.stringMatching(/^spec\.redis\.apiKey: literal secret "apiKey" is not allowed in Git/),
    ]);
    await fleetStillWorks();
    await commitGood({ 'fleet/sink.yaml': null });
  });

  it('item 3: refuses a spec file when it is over the per-file size limit', async () => {
    const padding = `# ${'x'.repeat(1024 * 1024)}\n`;
    const rejected = await commitRejected({
      'fleet/big.yaml': `${configFile('big', '{ names: ["*"] }', 'content: x')}${padding}`,
    });
    expect(rejected.errors).toEqual([
      expect.objectContaining({
        file: 'big.yaml',
        message: expect.stringContaining('over the limit of 1 MiB per file; split it into smaller files'),
      }),
    ]);
    await fleetStillWorks();
    await commitGood({ 'fleet/big.yaml': null });
  });

  it('item 4: refuses a ConfigFile when its content is too large for one manifest frame', async () => {
    const rejected = await commitRejected({
      'fleet/files/huge.txt': 'a'.repeat(5 * 1024 * 1024),
      'fleet/huge.yaml': configFile('huge', '{ names: ["*"] }', 'source: files/huge.txt'),
    });
    expect(rejected.errors).toEqual([
      expect.objectContaining({
        file: 'huge.yaml',
        line: 7,
        path: 'spec.source',
        message: expect.stringContaining(
          'ConfigFile "huge" is 5 MiB in a manifest, over the limit of 2 MiB per file',
        ),
      }),
    ]);
    await fleetStillWorks();
    await commitGood({ 'fleet/files/huge.txt': null, 'fleet/huge.yaml': null });
  });

  it('item 4: refuses to call a host Synced when its manifest could not be sent (too large for a frame)', async () => {
    // Three files under the per-file limit, together over one 4 MiB frame, for web-1 only.
    const files: Record<string, string> = {};
    for (const n of [1, 2, 3]) {
      files[`fleet/files/part-${n}.txt`] = String(n).repeat(1536 * 1024);
      files[`fleet/part-${n}.yaml`] = configFile(
        `part-${n}`,
        '{ names: ["web-*"] }',
        `source: files/part-${n}.txt`,
      );
    }
    const sha = await repo.commit(files, 'three large parts');
    await ctl.api('/api/v1/hooks/git', { method: 'POST' });
    await waitApplied(ctl, sha);
    const detail = await waitFor('web-1 Failed with its send error', async () => {
      const { body } = await ctl.api<{
        host: { syncState: string };
        resources: Array<{ key: string; state: string; message?: string }>;
      }>('/api/v1/hosts/web-1');
      return body.host.syncState === 'Failed' ? body : undefined;
    });
    expect(detail.resources).toContainEqual(
      expect.objectContaining({
        key: 'Manifest/send',
        state: 'Failed',
        message: expect.stringContaining('the manifest could not be sent: a frame of'),
      }),
    );
    // db-1 (not selected by the large files) stays Synced; web-1 still holds the last good files.
    await waitSynced(ctl, ['db-1']);
    expect(await web.read('/etc/motd')).toBe('hello\n');
    await expect(web.read('/etc/part-1.conf')).rejects.toThrow(/ENOENT/);
    await commitGood(Object.fromEntries(Object.keys(files).map((f) => [f, null])));
  });

  it('item 5: refuses a setuid mode when the spec does not opt in with allowSpecialModes', async () => {
    const rejected = await commitRejected({
      'fleet/suid.yaml': configFile('suid', '{ names: ["*"] }', 'content: "#!/bin/sh\\n"', 'mode: "4755"'),
    });
    expect(rejected.errors).toEqual([
      expect.objectContaining({
        file: 'suid.yaml',
        path: 'spec.mode',
        message: expect.stringContaining(
          '"4755" is setuid; such modes are refused unless the ConfigFile sets allowSpecialModes: true',
        ),
      }),
    ]);
    await fleetStillWorks();
    await commitGood({ 'fleet/suid.yaml': null });
  });

  it('item 8: refuses to target a host by a label its agent declared when the spec uses matchLabels', async () => {
    await commitGood({
      'fleet/web-only.yaml': configFile('web-only', '{ matchLabels: { role: web } }', 'content: web'),
      'fleet/canary.yaml': configFile('canary', '{ matchAgentLabels: { canary: "true" } }', 'content: c'),
    });
    // db-1 claimed role=web; the HostGroup says db, and HostGroup labels win.
    await expect(db.read('/etc/web-only.conf')).rejects.toThrow(/ENOENT/);
    expect(await web.read('/etc/web-only.conf')).toBe('web');
    // Agent-declared labels are reachable only through the explicit matchAgentLabels.
    expect(await web.read('/etc/canary.conf')).toBe('c');
    await expect(db.read('/etc/canary.conf')).rejects.toThrow(/ENOENT/);
    const { body } = await ctl.api<{ host: { labels: Record<string, string> } }>('/api/v1/hosts/db-1');
    expect(body.host.labels.role).toBe('db');
    await commitGood({ 'fleet/web-only.yaml': null, 'fleet/canary.yaml': null });
  });

  it('item 14: refuses to render host.labels.constructor when a template asks for it', async () => {
    const sha = await repo.commit(
      {
        'fleet/proto.yaml': configFile(
          'proto',
          '{ names: ["web-*"] }',
          'template: true',
          'content: "x={{ host.labels.constructor }} y={{ host.labels.__proto__ }}"',
        ),
      },
      'template probing Object internals',
    );
    await ctl.api('/api/v1/hooks/git', { method: 'POST' });
    await waitApplied(ctl, sha);
    const detail = await waitFor('proto Failed on web-1', async () => {
      const { body } = await ctl.api<{ resources: Array<{ key: string; state: string; message?: string }> }>(
        '/api/v1/hosts/web-1',
      );
      return body.resources.find((r) => r.key === 'ConfigFile/proto' && r.state === 'Failed');
    });
    expect(detail.message).toBe(
      'template: {{ host.labels.constructor }} is not set on host web-1; {{ host.labels.__proto__ }} is not set on host web-1',
    );
    await expect(web.read('/etc/proto.conf')).rejects.toThrow(/ENOENT/);
    // The other host is not touched by the failing item.
    await waitSynced(ctl, ['db-1']);
    await commitGood({ 'fleet/proto.yaml': null });
    await fleetStillWorks();
  });

  it('item 1: refuses the spec path when a commit turns it into a symlink to /etc', async () => {
    await rm(join(repo.dir, 'fleet'), { recursive: true });
    await symlink('/etc', join(repo.dir, 'fleet'));
    const rejected = await commitRejected({});
    expect(rejected.errors).toEqual([
      expect.objectContaining({
        message: expect.stringContaining('the spec path is a symlink in this commit'),
      }),
    ]);
    await fleetStillWorks();
    await rm(join(repo.dir, 'fleet'));
    await commitGood(BASE);
  });
});

/** A real `gsectl serve` from the build (so spec parsing runs on its worker threads), on a free port. */
async function startServe(
  repoDir: string,
): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const port = await freePort();
  const stateDir = await mkdtemp(join(tmpdir(), 'gse-serve-'));
  const child = spawn(
    process.execPath,
    [
      GSECTL_MAIN,
      'serve',
      '--repo',
      repoDir,
      '--path',
      'fleet',
      '--listen',
      `127.0.0.1:${port}`,
      '--state-dir',
      stateDir,
      '--bootstrap-token',
      TEST_BOOTSTRAP_TOKEN,
      '--admin-token',
      TEST_ADMIN_TOKEN,
      '--fetch-interval-ms',
      '60000',
      '--log-level',
      'error',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    child,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  return (await res.json()) as T;
}

/** About 1 MB of YAML that is all aliases: each of 90 aliases copies an anchor of 8,000 items. */
function aliasBomb(): string {
  const anchor = `a: &a [${Array(8000).fill('lol').join(', ')}]\n`;
  const refs = `b: [${Array(90).fill('*a').join(', ')}]\n`;
  const filler = `# ${'x'.repeat(1_000_000 - anchor.length - refs.length - 4)}\n`;
  return `${anchor}${refs}${filler}`;
}

describe('parsing off the event loop (issue #9 item 3)', () => {
  let repo: GitRepo;
  let serve: Awaited<ReturnType<typeof startServe>>;

  beforeAll(async () => {
    repo = await gitRepo(BASE);
    serve = await startServe(repo.dir);
    const head = await repo.head();
    await waitFor('gsectl serve applied the first revision', async () => {
      const body = await getJson<StatusBody>(`${serve.url}/api/v1/status`);
      return body.revision.applied?.sha === head;
    });
  });
  afterAll(async () => {
    await serve?.stop();
    await repo?.cleanup();
  });

  it('item 3: refuses a 1 MB alias-heavy file while /healthz keeps answering', async () => {
    const good = await repo.head();
    const sha = await repo.commit({ 'fleet/bomb.yaml': aliasBomb() }, 'billion laughs');
    const latencies: number[] = [];
    let rejected: Rejection | undefined;
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const t0 = performance.now();
        const res = await fetch(`${serve.url}/healthz`);
        expect(res.status).toBe(200);
        await res.text();
        latencies.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await fetch(`${serve.url}/api/v1/hooks/git`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    try {
      rejected = await waitFor('alias bomb rejected', async () => {
        const body = await getJson<StatusBody>(`${serve.url}/api/v1/status`);
        return body.revision.lastRejected?.sha === sha ? body.revision.lastRejected : undefined;
      });
    } finally {
      probing = false;
      await probe;
    }
    expect(rejected?.errors).toEqual([
      expect.objectContaining({
        file: 'bomb.yaml',
        message: expect.stringContaining('YAML: aliases expand to more than 10000 nodes'),
      }),
    ]);
    // Every probe during the ingest answered; the worst one is logged (bounded loosely: 2 shared cores).
    expect(latencies.length).toBeGreaterThan(0);
    console.log(
      `healthz during a hostile ingest: ${latencies.length} probes, max ${Math.max(...latencies).toFixed(1)} ms`,
    );
    expect(Math.max(...latencies)).toBeLessThan(1000);
    const status = await getJson<StatusBody>(`${serve.url}/api/v1/status`);
    expect(status.revision.applied?.sha).toBe(good);
  });
});
