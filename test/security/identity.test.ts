/**
 * Issue #9, items 8 and 9: identities cannot be borrowed, and what reaches the controller before (and after)
 * authentication is bounded. Real git repos, a real controller, real agent processes, raw ws clients for
 * the attacker; every case checks the refusal and that the fleet kept working.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type AgentProcess, GSECTL_MAIN, startAgentProcess } from '../helpers/agent-process.js';
import {
  type RunningController,
  startController,
  TEST_ADMIN_TOKEN,
  TEST_BOOTSTRAP_TOKEN,
  waitFor,
} from '../helpers/controller.js';
import { configFileYaml, listExecutions, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const FILES = {
  'fleet/motd.yaml': configFileYaml({
    name: 'motd',
    path: '/etc/motd',
    content: 'managed\n',
    onChange: { run: 'true', timeout: '10s' },
  }),
};

interface Frame {
  type: string;
  code?: string;
  message?: string;
  ref?: string;
  ids?: string[];
  taskId?: string;
  credential?: string;
}

/** An attacker's (or a twin's) raw ws connection that records every frame and how it closed. */
class RawAgent {
  readonly frames: Frame[] = [];
  close: { code: number; reason: string } | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.frames.push(JSON.parse(String(data)) as Frame));
    ws.on('close', (code, reason) => {
      this.close = { code, reason: reason.toString() };
    });
    ws.on('error', () => {});
  }

  static async open(ctl: RunningController): Promise<RawAgent> {
    const ws = new WebSocket(ctl.agentUrl, { ...ctl.wsOptions(), maxPayload: 8 * 1024 * 1024 });
    const raw = new RawAgent(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return raw;
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  next(what: string, pred: (f: Frame) => boolean): Promise<Frame> {
    return waitFor(what, () => this.frames.find(pred));
  }

  closed(): Promise<{ code: number; reason: string }> {
    return waitFor('the connection closed', () => this.close);
  }

  end(): void {
    this.ws.close();
  }
}

function hello(agentId: string, auth: { bootstrapToken: string } | { credential: string }, pad = '') {
  return {
    v: 1,
    type: 'hello',
    agentId,
    ...auth,
    facts: {
      name: agentId,
      ips: ['127.0.0.9'],
      cloudId: 0,
      os: 'linux',
      agentVersion: '0.1.0',
      labels: pad ? { pad } : {},
    },
    manifestHash: '',
    spoolHighWater: 0,
  };
}

function execResult(id: string, taskId: string, reason: string, exitCode = 0, stdoutTail = 'forged\n') {
  return {
    v: 1,
    type: 'execResult',
    id,
    taskId,
    reason,
    exitCode,
    signal: null,
    stdoutTail,
    stderrTail: '',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 5,
    timedOut: false,
    killed: false,
  };
}

/** Runs `echo alive` on `host` through the API and waits for its recorded result. */
async function execAnswers(ctl: RunningController, host: string): Promise<string> {
  const { status, body } = await ctl.api<{ taskId: string; hosts: string[] }>('/api/v1/exec', {
    body: { hosts: `name=${host}`, script: 'echo alive', wait: false },
  });
  expect(status).toBe(200);
  expect(body.hosts).toEqual([host]);
  await waitFor(`exec ${body.taskId} answered by ${host}`, async () =>
    (await listExecutions(ctl, host)).find(
      (e) => e.id === body.taskId && e.status === 'succeeded' && e.stdoutTail === 'alive\n',
    ),
  );
  return body.taskId;
}

/** The fleet kept working: `host` is Synced on the current revision and still answers an exec. */
async function fleetWorks(ctl: RunningController, host: string): Promise<void> {
  await waitSynced(ctl, [host]);
  await execAnswers(ctl, host);
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setUp(overrides: Parameters<typeof startController>[1] = {}) {
  const repo: GitRepo = await gitRepo(FILES);
  cleanups.push(() => repo.cleanup());
  const ctl = await startController(repo.dir, { path: 'fleet', ...overrides });
  cleanups.push(() => ctl.cleanup());
  return ctl;
}

async function agent(ctl: RunningController, name: string, stateDir?: string): Promise<AgentProcess> {
  const a = await startAgentProcess({ controllerUrl: ctl.agentUrl, name, ...(stateDir ? { stateDir } : {}) });
  cleanups.push(() => a.cleanup());
  return a;
}

/** `gsectl ARGS` as a child process against `ctl` (with its CA when it serves TLS). */
async function gsectl(ctl: RunningController, ...args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, GSE_SERVER: ctl.url, GSE_TOKEN: TEST_ADMIN_TOKEN };
  if (ctl.ca) {
    const dir = await mkdtemp(join(tmpdir(), 'gse-ca-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    env.GSE_CA = join(dir, 'ca.pem');
    await writeFile(env.GSE_CA, ctl.ca);
  }
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [GSECTL_MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const credentialOf = async (a: AgentProcess): Promise<string> =>
  (JSON.parse(await readFile(join(a.stateDir, 'identity.json'), 'utf8')) as { credential: string })
    .credential;

describe('identity (one controller, one real agent, attackers on raw ws)', () => {
  let ctl: RunningController;
  let web: AgentProcess;
  let mallory: RawAgent;

  let mark = 0;
  afterAll(async () => {
    for (const fn of cleanups.splice(mark).reverse()) await fn();
  });
  beforeAll(async () => {
    mark = cleanups.length;
    ctl = await setUp({ helloTimeoutMs: 1_000 });
    web = await agent(ctl, 'web-1');
    await waitSynced(ctl, ['web-1']);
  });

  it('item 8: refuses taking over an approved id when a bootstrap-token holder enrolls it again', async () => {
    const since = ctl.controller.hub.session('web-1')?.connectedAt;
    const raw = await RawAgent.open(ctl);
    raw.send(hello('web-1', { bootstrapToken: TEST_BOOTSTRAP_TOKEN }));
    const error = await raw.next('the refusal', (f) => f.type === 'error');
    expect(error).toMatchObject({
      code: 'reenroll_refused',
      message:
        'agent web-1 already holds an approved credential; to enroll it again run: gsectl agents reset web-1',
    });
    expect((await raw.closed()).code).toBe(4003);
    expect(raw.frames.some((f) => f.type === 'welcome')).toBe(false);
    // The real agent kept its session and its credential.
    expect(ctl.controller.hub.session('web-1')?.connectedAt).toBe(since);
    await fleetWorks(ctl, 'web-1');
  });

  it('item 8: refuses a second live session for an id when a twin presents its credential', async () => {
    const since = ctl.controller.hub.session('web-1')?.connectedAt;
    const raw = await RawAgent.open(ctl);
    raw.send(hello('web-1', { credential: await credentialOf(web) }));
    const error = await raw.next('the refusal', (f) => f.type === 'error');
    expect(error.code).toBe('session_live');
    expect(error.message).toContain('a session for agent web-1 is already live');
    expect((await raw.closed()).code).toBe(4009);
    expect(ctl.controller.hub.session('web-1')?.connectedAt).toBe(since);
    expect(ctl.controller.hub.stats().sessionsReplaced).toBe(0);
    await fleetWorks(ctl, 'web-1');
  });

  it('item 9: refuses a frame over 64 KiB when it comes before the hello is authenticated', async () => {
    const raw = await RawAgent.open(ctl);
    raw.send(hello('big-1', { bootstrapToken: TEST_BOOTSTRAP_TOKEN }, 'x'.repeat(64 * 1024)));
    expect((await raw.closed()).code).toBe(1009);
    expect(raw.frames.some((f) => f.type === 'welcome')).toBe(false);
    expect(ctl.controller.hub.stats().framesRejected.too_large).toBeGreaterThanOrEqual(1);
    const agents = await ctl.api<{ items: Array<{ agentId: string }> }>('/api/v1/agents');
    expect(agents.body.items.map((x) => x.agentId)).not.toContain('big-1');
    await fleetWorks(ctl, 'web-1');
  });

  it('item 9: refuses a connection that sends no hello when the hello timeout passes', async () => {
    const raw = await RawAgent.open(ctl);
    const error = await raw.next('the refusal', (f) => f.type === 'error');
    expect(error).toMatchObject({ code: 'not_authenticated', message: 'no hello within 1000 ms' });
    expect(await raw.closed()).toEqual({ code: 4001, reason: 'no hello within 1000 ms' });
    await fleetWorks(ctl, 'web-1');
  });

  it('item 9: refuses an execResult for a task that was not sent to the reporting host', async () => {
    const taskOfWeb = await execAnswers(ctl, 'web-1');
    mallory = await RawAgent.open(ctl);
    mallory.send(hello('mallory', { bootstrapToken: TEST_BOOTSTRAP_TOKEN }));
    await mallory.next('mallory welcomed', (f) => f.type === 'welcome');
    mallory.send(execResult('m1', taskOfWeb, 'adhoc'));
    mallory.send(execResult('m2', 'made-up-task', 'adhoc'));
    for (const [ref, task] of [
      ['m1', taskOfWeb],
      ['m2', 'made-up-task'],
    ] as const) {
      const error = await mallory.next(`refusal of ${ref}`, (f) => f.type === 'error' && f.ref === ref);
      expect(error).toMatchObject({
        code: 'result_refused',
        message: `result refused: task ${task} was not sent to mallory`,
      });
    }
    // Acked (so not re-sent) but never stored.
    // Acks may come one frame each or batched: what counts is that both ids were acked.
    await waitFor('m1 and m2 acked', () => {
      const acked = new Set(mallory.frames.flatMap((f) => (f.type === 'ack' ? (f.ids ?? []) : [])));
      return ['m1', 'm2'].every((id) => acked.has(id));
    });
    expect(await listExecutions(ctl, 'mallory')).toEqual([]);
    const webRecord = (await listExecutions(ctl, 'web-1')).find((e) => e.id === taskOfWeb);
    expect(webRecord).toMatchObject({ status: 'succeeded', stdoutTail: 'alive\n' });
    await fleetWorks(ctl, 'web-1');
  });

  it("item 9: refuses an onChange or remediation result when the host's manifest holds no such resource", async () => {
    const cases = [
      ['m3', 'onChange:ConfigFile/nope', 'ConfigFile with onChange named ConfigFile/nope'],
      ['m4', 'remediation:Remediation/ghost', 'Remediation named Remediation/ghost'],
    ] as const;
    for (const [id, reason] of cases) mallory.send(execResult(id, `${reason}@abc@1`, reason));
    for (const [id, , what] of cases) {
      const error = await mallory.next(`refusal of ${id}`, (f) => f.type === 'error' && f.ref === id);
      expect(error).toMatchObject({
        code: 'result_refused',
        message: `result refused: the manifest of mallory holds no ${what}`,
      });
    }
    expect(await listExecutions(ctl, 'mallory')).toEqual([]);
    await fleetWorks(ctl, 'web-1');
  });

  it('item 9: refuses to overwrite a finished execution when a second result comes for it', async () => {
    const { body } = await ctl.api<{ taskId: string; hosts: string[] }>('/api/v1/exec', {
      body: { hosts: 'name=mallory', script: 'id', wait: false },
    });
    expect(body.hosts).toEqual(['mallory']);
    await mallory.next('the exec', (f) => f.type === 'exec' && f.taskId === body.taskId);
    mallory.send(execResult('m5', body.taskId, 'adhoc', 0, 'uid=0\n'));
    await mallory.next('m5 acked', (f) => f.type === 'ack' && (f.ids ?? []).includes('m5'));
    mallory.send(execResult('m6', body.taskId, 'adhoc', 1, 'rewritten\n'));
    const error = await mallory.next('refusal of m6', (f) => f.type === 'error' && f.ref === 'm6');
    expect(error).toMatchObject({
      code: 'result_refused',
      message: `result refused: execution ${body.taskId} on mallory already finished (succeeded); a second result does not overwrite it`,
    });
    // A re-send of the same result (its ack was lost) is simply acked again, not refused.
    mallory.send(execResult('m5', body.taskId, 'adhoc', 0, 'uid=0\n'));
    await waitFor('m5 acked twice', () =>
      mallory.frames.filter((f) => f.type === 'ack' && (f.ids ?? []).includes('m5')).length === 2
        ? true
        : undefined,
    );
    expect(mallory.frames.some((f) => f.type === 'error' && f.ref === 'm5')).toBe(false);
    const rec = (await listExecutions(ctl, 'mallory')).find((e) => e.id === body.taskId);
    expect(rec).toMatchObject({ status: 'succeeded', exitCode: 0, stdoutTail: 'uid=0\n' });
    mallory.end();
    await fleetWorks(ctl, 'web-1');
  });
});

describe('identity (a controller per case)', () => {
  // Each case's controller and agents go when it ends (two cores are shared: keep one fleet up at a time).
  let mark = 0;
  beforeEach(() => {
    mark = cleanups.length;
  });
  afterEach(async () => {
    for (const fn of cleanups.splice(mark).reverse()) await fn();
  });

  it("item 8: refuses a wiped host's bootstrap re-enrollment until an operator runs gsectl agents reset", async () => {
    const ctl = await setUp();
    const wiped = await agent(ctl, 'wiped-1');
    await agent(ctl, 'steady-1');
    await waitSynced(ctl, ['wiped-1', 'steady-1']);

    await wiped.stop();
    await rm(join(wiped.stateDir, 'identity.json'));
    await wiped.restart();
    expect(await wiped.exited()).toEqual({ code: 1, signal: null });
    expect(wiped.stderr()).toContain('reenroll_refused');
    expect(wiped.stderr()).toContain('gsectl agents reset wiped-1');
    expect(ctl.controller.hub.session('wiped-1')).toBeUndefined();
    await fleetWorks(ctl, 'steady-1');

    const reset = await gsectl(ctl, 'agents', 'reset', 'wiped-1');
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toContain('wiped-1: approved');
    await wiped.restart();
    await fleetWorks(ctl, 'wiped-1');
    await fleetWorks(ctl, 'steady-1');
  });

  it('item 8: refuses a cloned identity while the original is live, and the clone retries until it may take over', async () => {
    const ctl = await setUp();
    const original = await agent(ctl, 'twin-1');
    await waitSynced(ctl, ['twin-1']);
    const since = ctl.controller.hub.session('twin-1')?.connectedAt;
    // The host's identity.json copied to another machine's state dir.
    const cloneState = await mkdtemp(join(tmpdir(), 'gse-clone-'));
    cleanups.push(() => rm(cloneState, { recursive: true, force: true }));
    await copyFile(join(original.stateDir, 'identity.json'), join(cloneState, 'identity.json'));
    const clone = await agent(ctl, 'twin-1', cloneState);

    await waitFor('the clone refused twice', () => ctl.controller.hub.stats().duplicateSessionsRefused >= 2);
    expect(clone.child.exitCode).toBeNull();
    expect(clone.stderr()).toContain('session_live');
    expect(ctl.controller.hub.session('twin-1')?.connectedAt).toBe(since);
    await fleetWorks(ctl, 'twin-1');

    // Once the original is gone, the retrying clone may have the session.
    await original.stop();
    await waitFor(
      'the clone connected',
      () => {
        const s = ctl.controller.hub.session('twin-1');
        return s && s.connectedAt !== since;
      },
      40_000,
    );
    await fleetWorks(ctl, 'twin-1');
  });

  it('item 8: refuses to admit a reset agent without approval when --manual-approve is on', async () => {
    const ctl = await setUp({ autoApprove: false });
    await agent(ctl, 'm-1');
    await agent(ctl, 'm-2');
    const statusOf = async (id: string) =>
      (
        await ctl.api<{ items: Array<{ agentId: string; status: string }> }>('/api/v1/agents')
      ).body.items.find((x) => x.agentId === id)?.status;
    await waitFor(
      'both pending',
      async () => (await statusOf('m-1')) === 'pending' && (await statusOf('m-2')) === 'pending',
    );
    expect(ctl.controller.hub.sessions()).toEqual([]);
    for (const id of ['m-1', 'm-2'])
      expect((await ctl.api(`/api/v1/agents/${id}/approve`, { body: {} })).status).toBe(200);
    await waitSynced(ctl, ['m-1', 'm-2'], undefined, 40_000);

    const reset = await ctl.api<{ agentId: string; status: string }>('/api/v1/agents/m-1/reset', {
      body: {},
    });
    expect(reset).toEqual({
      status: 200,
      body: expect.objectContaining({ agentId: 'm-1', status: 'pending' }),
    });
    const failures = ctl.controller.hub.stats().authFailures;
    // The agent re-enrolls with the bootstrap token and is turned away until approved.
    await waitFor('m-1 refused as pending', () => ctl.controller.hub.stats().authFailures > failures);
    expect(ctl.controller.hub.session('m-1')).toBeUndefined();
    expect(await statusOf('m-1')).toBe('pending');
    await fleetWorks(ctl, 'm-2');

    expect((await ctl.api('/api/v1/agents/m-1/approve', { body: {} })).status).toBe(200);
    await waitSynced(ctl, ['m-1'], undefined, 40_000);
    await fleetWorks(ctl, 'm-1');
  });

  it('item 9: refuses upgrades beyond maxHandshakes with 503 and Retry-After', async () => {
    const ctl = await setUp({ maxHandshakes: 3 });
    await agent(ctl, 'h-1');
    await waitSynced(ctl, ['h-1']);
    const idle = await Promise.all([RawAgent.open(ctl), RawAgent.open(ctl), RawAgent.open(ctl)]);
    await waitFor('three handshakes open', () => ctl.controller.hub.stats().handshaking === 3);
    const ws = new WebSocket(ctl.agentUrl, ctl.wsOptions());
    const answer = await new Promise<{ status?: number; retryAfter?: string }>((resolve) => {
      ws.on('unexpected-response', (_req, res) =>
        resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'] }),
      );
      ws.on('open', () => resolve({}));
      ws.on('error', () => resolve({}));
    });
    expect(answer).toEqual({ status: 503, retryAfter: '1' });
    expect(ctl.controller.hub.stats().handshakesRejected).toBe(1);
    await fleetWorks(ctl, 'h-1');

    for (const raw of idle) raw.end();
    await waitFor('handshakes drained', () => ctl.controller.hub.stats().handshaking === 0);
    const late = await RawAgent.open(ctl);
    late.send(hello('h-2', { bootstrapToken: TEST_BOOTSTRAP_TOKEN }));
    await late.next('h-2 welcomed', (f) => f.type === 'welcome');
    late.end();
  });
});
