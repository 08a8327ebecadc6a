/**
 * Packaging as an operator uses it: `gsectl serve --config FILE` as the controller's systemd unit runs it,
 * and packaging/install-agent.sh installing a built package, whose unit's ExecStart (run here with the
 * paths under a prefix, as systemd would run it) enrolls with the bootstrap token.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GSECTL_MAIN } from '../helpers/agent-process.js';
import {
  httpCall,
  type RunningController,
  startController,
  TEST_ADMIN_TOKEN,
  TEST_BOOTSTRAP_TOKEN,
  waitFor,
} from '../helpers/controller.js';
import { listHosts } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { type Artifact, buildArtifact } from '../helpers/launched-agent.js';

const run = promisify(execFile);
const PACKAGING = resolve(import.meta.dirname, '../../packaging');
const EXIT_TIMEOUT_MS = 30_000;

const freePort = () =>
  new Promise<number>((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('process did not exit')), EXIT_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      ok(code);
    });
  });
}

/** KEY=VALUE lines, as systemd's EnvironmentFile= reads them. */
function envFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m?.[1] !== undefined) env[m[1]] = m[2] ?? '';
  }
  return env;
}

describe('packaging', () => {
  let dir: string;
  let repo: GitRepo;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-pkg-'));
    repo = await gitRepo({
      'fleet/groups.yaml':
        'apiVersion: gse/v1\nkind: HostGroup\nmetadata:\n  name: all\nspec:\n  match:\n    names: ["*"]\n  labels:\n    packaged: "yes"\n',
    });
  });
  afterAll(async () => {
    await repo?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gsectl serve --config runs the controller from the file and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const config = join(dir, 'controller.yaml');
    await writeFile(
      config,
      `repo: ${repo.dir}\npath: fleet\nlisten: 127.0.0.1:${port}\nstate-dir: ${join(dir, 'ctl-state')}\nlog-level: error\n`,
    );
    const child = spawn(process.execPath, [GSECTL_MAIN, 'serve', '--config', config], {
      env: { ...process.env, GSE_BOOTSTRAP_TOKEN: TEST_BOOTSTRAP_TOKEN, GSE_ADMIN_TOKEN: TEST_ADMIN_TOKEN },
      stdio: 'ignore',
    });
    const exited = exitOf(child);
    await waitFor(
      'the controller to answer /healthz on the port the file names',
      async () => (await httpCall(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200,
      30_000,
    );
    const state = await stat(join(dir, 'ctl-state'));
    expect(state.isDirectory()).toBe(true);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);

  it('gsectl serve --config refuses a bad file with file:line and starts nothing', async () => {
    const config = join(dir, 'bad.yaml');
    await writeFile(config, `repo: ${repo.dir}\nlisen: 127.0.0.1:0\nadmin-token: not-here\n`);
    const err = await run(process.execPath, [GSECTL_MAIN, 'serve', '--config', config]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toContain(`${config}:2:1: lisen: unknown field "lisen"; did you mean "listen"?`);
    expect(err?.stderr).toContain(`${config}:3:1: admin-token: secrets do not go in the config file`);
    expect(err?.stderr).not.toContain('not-here');
  });

  describe('install-agent.sh', () => {
    let ctl: RunningController;
    let artifact: Artifact;
    let launcher: ChildProcess | undefined;

    beforeAll(async () => {
      artifact = await buildArtifact('2.3.4', dir);
      ctl = await startController(repo.dir, { path: 'fleet' });
    }, 120_000);
    afterAll(async () => {
      if (launcher && launcher.exitCode === null) {
        const exited = exitOf(launcher);
        launcher.kill('SIGTERM');
        await exited.catch(() => launcher?.kill('SIGKILL'));
      }
      await ctl?.cleanup();
    });

    it('refuses a package whose sha256 differs, installing nothing', async () => {
      const prefix = join(dir, 'bad-host');
      const token = join(dir, 'token');
      await writeFile(token, TEST_BOOTSTRAP_TOKEN, { mode: 0o600 });
      const err = await run('sh', [
        join(PACKAGING, 'install-agent.sh'),
        ...['--prefix', prefix, '--controller', ctl.agentUrl, '--ca', ctl.caFile ?? ''],
        ...['--token-file', token, '--artifact', artifact.path, '--sha256', '0'.repeat(64)],
      ]).then(
        () => undefined,
        (e: { code: number; stderr: string }) => e,
      );
      expect(err?.code).toBe(2);
      expect(err?.stderr).toContain(`expected ${'0'.repeat(64)}: not installed`);
      await expect(stat(join(prefix, 'opt/gse-agent'))).rejects.toThrow();
    });

    it('installs the package and settings, and the unit it installs enrolls the agent', async () => {
      const prefix = join(dir, 'host');
      const token = join(dir, 'token');
      await writeFile(token, TEST_BOOTSTRAP_TOKEN, { mode: 0o600 });
      const { stdout } = await run('sh', [
        join(PACKAGING, 'install-agent.sh'),
        ...['--prefix', prefix, '--controller', ctl.agentUrl, '--ca', ctl.caFile ?? ''],
        ...['--token-file', token, '--artifact', artifact.path, '--sha256', artifact.sha256],
        ...['--labels', 'role=pkg', '--name', 'pkg-host'],
      ]);
      expect(stdout).toContain('installed 2.3.4');

      const envPath = join(prefix, 'etc/gse/agent.env');
      expect((await stat(envPath)).mode & 0o777).toBe(0o600);
      const env = envFile(await readFile(envPath, 'utf8'));
      expect(env).toEqual({
        GSE_CONTROLLER: ctl.agentUrl,
        GSE_CA: '/etc/gse/ca.crt',
        GSE_BOOTSTRAP_TOKEN: TEST_BOOTSTRAP_TOKEN,
        GSE_AGENT_ARGS: '--labels role=pkg --name pkg-host',
      });
      expect((await stat(join(prefix, 'var/lib/gse-agent'))).mode & 0o777).toBe(0o700);
      expect((await readFile(join(prefix, 'opt/gse-agent/current/dist/VERSION'), 'utf8')).trim()).toBe(
        '2.3.4',
      );

      // The installed unit's ExecStart, with its absolute paths moved under the prefix and a sandbox root.
      const unit = await readFile(join(prefix, 'etc/systemd/system/gse-agent.service'), 'utf8');
      const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
      const root = join(dir, 'host-root');
      const argv = execStart
        .replace('$GSE_AGENT_ARGS', `${env.GSE_AGENT_ARGS} --root ${root}`)
        .split(/\s+/)
        .map((a) => (a.startsWith('/opt/') || a.startsWith('/var/') ? join(prefix, a) : a));
      const [bin, ...args] = argv;
      launcher = spawn(bin ?? '', args, {
        env: { ...process.env, ...env, GSE_CA: join(prefix, 'etc/gse/ca.crt') },
        stdio: 'ignore',
        detached: true,
      });
      await waitFor(
        'the installed agent to enroll and connect',
        async () => (await listHosts(ctl)).find((h) => h.name === 'pkg-host' && h.connected),
        60_000,
      );
      // The controller counts the host connected when it sends `welcome`; the agent keeps the
      // credential that welcome carries a moment later.
      const identity = (await waitFor(
        'the agent to keep its credential',
        () =>
          readFile(join(prefix, 'var/lib/gse-agent/identity.json'), 'utf8').then(JSON.parse, () => undefined),
        10_000,
      )) as { credential?: string };
      expect(identity.credential).toBeTruthy();
      const exited = exitOf(launcher);
      launcher.kill('SIGTERM');
      expect(await exited).not.toBeNull();
    }, 120_000);
  });
});
