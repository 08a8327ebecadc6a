/**
 * Issue #9 item 10, the wire is private: the controller serves HTTPS/WSS, agents pin its CA and refuse
 * plain ws:// unless told --insecure, gsectl trusts only the CA it is given. Each case is an attack on a
 * real controller (real git, real agent processes, the real gsectl) and checks the fleet kept working.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_MAIN, type AgentProcess, GSECTL_MAIN, startAgentProcess } from '../helpers/agent-process.js';
import {
  httpCall,
  type RunningController,
  startController,
  TEST_ADMIN_TOKEN,
  TEST_BOOTSTRAP_TOKEN,
  waitFor,
} from '../helpers/controller.js';
import { configFileYaml, listHosts, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { generateCa, type TestCa } from '../helpers/tls.js';

const GOOD = 'wire-good-1';
const CONF = '/etc/wire/app.conf';
/** A CLI run is bounded so a hung child fails the case instead of holding the suite. */
const CHILD_TIMEOUT_MS = 30_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <main> ...args` to completion with `env` added to this process's environment. */
function runNode(main: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], {
      env: { ...process.env, GSE_CA: undefined, GSE_SERVER: undefined, GSE_TOKEN: undefined, ...env },
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
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('wire: TLS between controller, agents and gsectl', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let good: AgentProcess;
  let work: string;
  /** A CA that did not sign the controller's certificate (an attacker's, or a stale one). */
  let otherCa: TestCa;

  /** The fleet kept working: the good host is still Synced on the head, and an exec on it still answers. */
  async function fleetStillWorks(): Promise<void> {
    await waitSynced(ctl, [GOOD], await repo.head());
    expect(await good.read(CONF)).toBe('served over tls\n');
    const res = await ctl.request('/api/v1/exec', {
      token: TEST_ADMIN_TOKEN,
      body: JSON.stringify({ hosts: `name=${GOOD}`, script: 'echo still-here', timeoutMs: 10_000 }),
    });
    expect(res.status).toBe(200);
    const results = res.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; hostId?: string; exitCode?: number; stdoutTail?: string })
      .filter((l) => l.type === 'result');
    expect(results).toMatchObject([{ hostId: GOOD, exitCode: 0 }]);
    expect(results[0]?.stdoutTail).toContain('still-here');
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'gse-sec-wire-'));
    otherCa = await generateCa(await mkdtemp(join(work, 'other-ca-')), 'not the fleet CA');
    repo = await gitRepo({
      'fleet/app.yaml': configFileYaml({ name: 'app', path: CONF, content: 'served over tls\n' }),
    });
    ctl = await startController(repo.dir, { path: 'fleet' });
    expect(ctl.agentUrl).toMatch(/^wss:\/\//);
    good = await startAgentProcess({ controllerUrl: ctl.agentUrl, name: GOOD });
    await waitSynced(ctl, [GOOD], await repo.head());
  });
  afterAll(async () => {
    await good?.cleanup();
    await ctl?.cleanup();
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('item 10: refuses a plain ws:// controller URL when the agent is started without --insecure', async () => {
    const plainUrl = ctl.agentUrl.replace(/^wss:/, 'ws:');
    const agent = await startAgentProcess({ controllerUrl: plainUrl, name: 'wire-plain', insecure: false });
    try {
      const exit = await agent.exited();
      expect(exit.code).toBe(2);
      expect(agent.stderr()).toContain(`refusing plain ws:// controller URL ${plainUrl}`);
      expect(agent.stderr()).toContain('--controller wss://HOST:PORT/agent --ca CA_FILE');
      expect(agent.stderr()).toContain('--insecure');
    } finally {
      await agent.cleanup();
    }
    // `simulate` takes the same door: N agents cannot be talked into clear text either.
    const sim = await runNode(AGENT_MAIN, [
      'simulate',
      '--count',
      '2',
      '--controller',
      plainUrl,
      '--token',
      TEST_BOOTSTRAP_TOKEN,
      '--root',
      join(work, 'sim'),
    ]);
    expect(sim.code).toBe(2);
    expect(sim.stderr).toContain('refusing plain ws:// controller URL');

    const names = (await listHosts(ctl)).map((h) => h.name);
    expect(names).not.toContain('wire-plain');
    expect(names).not.toContain('sim-1');
    await fleetStillWorks();
  });

  it("item 10: refuses the controller's certificate when the agent pins another CA", async () => {
    const agent = await startAgentProcess({
      controllerUrl: ctl.agentUrl,
      name: 'wire-wrong-ca',
      ca: otherCa.caFile,
    });
    try {
      await waitFor('the agent to report the untrusted certificate', () =>
        agent.stderr().includes("TLS: the controller's certificate is not trusted"),
      );
      expect(agent.stderr()).toMatch(
        /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER/,
      );
      expect(agent.stderr()).toContain('check that --ca names the CA that signed');
      // It keeps retrying (a rotated certificate may be fixed without touching hosts) but never gets a session.
      expect(agent.child.exitCode).toBeNull();
      expect((await listHosts(ctl)).map((h) => h.name)).not.toContain('wire-wrong-ca');
    } finally {
      await agent.cleanup();
    }
    await fleetStillWorks();
  });

  it('item 10: refuses an impostor controller when its certificate is not from the pinned CA', async () => {
    // Someone on the path answers on another port with a certificate for the same address from their own CA:
    // an agent pinned to the fleet CA must not hand it the bootstrap token.
    const impostor = await startController(repo.dir, {
      path: 'fleet',
      tlsCert: otherCa.certFile,
      tlsKey: otherCa.keyFile,
    });
    const agent = await startAgentProcess({ controllerUrl: impostor.agentUrl, name: 'wire-victim' });
    try {
      await waitFor('the agent to refuse the impostor', () =>
        agent.stderr().includes("TLS: the controller's certificate is not trusted"),
      );
      expect(impostor.controller.hub.sessions()).toHaveLength(0);
      const { status, body } = await httpCall(`${impostor.url}/api/v1/hosts`, {
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        ca: otherCa.caPem,
      }).then((r) => ({ status: r.status, body: JSON.parse(r.text) as { items: unknown[] } }));
      expect(status).toBe(200);
      expect(body.items).toEqual([]);
    } finally {
      await agent.cleanup();
      await impostor.cleanup();
    }
    await fleetStillWorks();
  });

  it('item 10: refuses gsectl calls when it is not given the CA of the TLS controller', async () => {
    const env = { GSE_SERVER: ctl.url, GSE_TOKEN: TEST_ADMIN_TOKEN };
    const without = await runNode(GSECTL_MAIN, ['status', '-o', 'json'], env);
    expect(without.code).toBe(1);
    expect(without.stderr).toContain(`gsectl: TLS: cannot verify ${ctl.url}`);
    expect(without.stderr).toContain('pass --ca FILE or set GSE_CA');
    expect(without.stdout).toBe('');

    const wrong = await runNode(GSECTL_MAIN, ['status', '-o', 'json', '--ca', otherCa.caFile], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('TLS: cannot verify');

    const withFlag = await runNode(GSECTL_MAIN, ['status', '-o', 'json', '--ca', ctl.caFile ?? ''], env);
    expect(withFlag.stderr).toBe('');
    expect(withFlag.code).toBe(0);
    const status = JSON.parse(withFlag.stdout) as { revision: { applied: { sha: string } | null } };
    expect(status.revision.applied?.sha).toBe(await repo.head());

    const withEnv = await runNode(GSECTL_MAIN, ['get', 'hosts', '-o', 'json'], {
      ...env,
      GSE_CA: ctl.caFile,
    });
    expect(withEnv.code).toBe(0);
    expect(withEnv.stdout).toContain(GOOD);
    await fleetStillWorks();
  });

  it('item 10: refuses plain HTTP API calls when the controller port serves TLS', async () => {
    const plain = ctl.url.replace(/^https:/, 'http:');
    // The bearer token would cross in clear text: the TLS port answers no plain HTTP at all.
    await expect(
      httpCall(`${plain}/api/v1/status`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } }),
    ).rejects.toMatchObject({ code: 'ECONNRESET' });

    const cli = await runNode(GSECTL_MAIN, ['status'], { GSE_SERVER: plain, GSE_TOKEN: TEST_ADMIN_TOKEN });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain(`gsectl: ${plain} closed the connection`);
    expect(cli.stderr).toContain('use https:// in --server / GSE_SERVER');
    await fleetStillWorks();
  });
});
