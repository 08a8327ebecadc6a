import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { AgentNotFoundError, AgentStateError } from '../../src/fleet/errors.js';
import { AGENT_REGISTRY_FILE, FileAgentRegistry } from '../../src/fleet/file-registry.js';
import { FakeClock, helloFor, startHub, TestAgent, type TestHub, TOKEN } from './harness.js';

let env: TestHub | undefined;
let stateDir: string | undefined;

afterEach(async () => {
  await env?.close();
  env = undefined;
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
  stateDir = undefined;
});

/** Connects, sends `hello` and returns the error frame and the close it got. */
async function refused(url: string, hello: unknown) {
  const agent = await TestAgent.connect(url);
  agent.send(hello);
  const error = await agent.next((m) => m.type === 'error');
  const close = await agent.closed;
  return { error, close, agent };
}

describe('FleetHub authentication', () => {
  it('issues a credential when an agent enrolls, and accepts it on reconnect', async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'gse-hub-'));
    const registry = await FileAgentRegistry.create(stateDir);
    env = await startHub({ heartbeatMs: 5_000, window: 8 }, { registry });

    const first = await TestAgent.connect(env.url);
    first.send(helloFor('sim-1'));
    const welcome = await first.next((m) => m.type === 'welcome');
    expect(welcome).toMatchObject({ agentId: 'sim-1', heartbeatMs: 5_000, window: 8 });
    const credential = welcome.type === 'welcome' ? welcome.credential : undefined;
    expect(credential).toMatch(/^[A-Za-z0-9_-]{43}$/);
    first.close();
    await first.closed;

    const again = await TestAgent.enroll(env.url, helloFor('sim-1', { credential: credential! }));
    expect(again.credential).toBeUndefined();
    expect(env.hub.hostState('sim-1')).toBe('Connected');

    const file = await readFile(join(stateDir, AGENT_REGISTRY_FILE), 'utf8');
    expect(file).not.toContain(credential!);
    expect(file).toContain(createHash('sha256').update(credential!).digest('hex'));
    expect((await registry.getAgent('sim-1'))?.status).toBe('approved');
    again.agent.close();
  });

  it.each([
    {
      name: 'a bad bootstrap token',
      hello: helloFor('sim-1', { bootstrapToken: 'wrong' }),
      code: 'bad_token',
      message: 'bootstrap token rejected',
      close: 4001,
    },
    {
      name: 'an unknown credential',
      hello: helloFor('sim-1', { credential: 'made-up' }),
      code: 'bad_credential',
      message: 'credential rejected for agent sim-1',
      close: 4001,
    },
    {
      name: 'neither token nor credential',
      hello: { ...helloFor('sim-1'), bootstrapToken: undefined },
      code: 'bad_credential',
      message: 'hello carries neither a credential nor a bootstrap token',
      close: 4001,
    },
    {
      name: 'a first frame that is not hello',
      hello: { v: 1, type: 'heartbeat', time: 'now' },
      code: 'not_authenticated',
      message: 'the first frame must be hello, got heartbeat',
      close: 4001,
    },
    {
      name: 'a first frame that is not JSON',
      hello: 'hello?',
      code: 'not_authenticated',
      message: 'the first frame must be a valid hello (bad_json',
      close: 4001,
    },
  ])('refuses $name with $code and no session', async ({ hello, code, message, close }) => {
    env = await startHub();
    const { error, close: closed } = await refused(env.url, hello);
    expect(error).toMatchObject({ type: 'error', code });
    expect(error.type === 'error' && error.message).toContain(message);
    expect(closed.code).toBe(close);
    expect(closed.reason).toContain(message);
    expect(env.hub.sessions()).toEqual([]);
    expect(env.hub.stats().authFailures).toBe(1);
  });

  it('refuses a bad credential for a known agent when the credential does not match', async () => {
    env = await startHub();
    const { agent } = await TestAgent.enroll(env.url, helloFor('sim-1'));
    agent.close();
    await agent.closed;
    const { error, close } = await refused(env.url, helloFor('sim-1', { credential: 'not-the-one' }));
    expect(error).toMatchObject({ code: 'bad_credential', message: 'credential rejected for agent sim-1' });
    expect(close).toEqual({ code: 4001, reason: 'credential rejected for agent sim-1' });
  });

  it('closes the live session and refuses the agent when it is revoked', async () => {
    env = await startHub();
    const { agent, credential } = await TestAgent.enroll(env.url, helloFor('sim-1'));
    await env.hub.revoke('sim-1');
    expect(await agent.closed).toEqual({ code: 4003, reason: 'agent sim-1 is revoked' });
    await vi.waitFor(() => expect(env?.hub.hostState('sim-1')).toBe('Disconnected'));

    for (const hello of [helloFor('sim-1', { credential: credential! }), helloFor('sim-1')]) {
      const { error, close } = await refused(env.url, hello);
      expect(error).toMatchObject({ code: 'revoked', message: 'agent sim-1 is revoked' });
      expect(close).toEqual({ code: 4003, reason: 'agent sim-1 is revoked' });
    }
    expect(env.hub.sessions()).toEqual([]);
  });

  it('keeps a new agent pending when autoApprove is off, and lets it in once approved', async () => {
    env = await startHub({ autoApprove: false });
    const reason = 'agent sim-1 awaits approval: gsectl agents approve sim-1';
    const { error, close } = await refused(env.url, helloFor('sim-1'));
    expect(error).toMatchObject({ code: 'pending_approval', message: reason });
    expect(close).toEqual({ code: 4003, reason });
    expect(env.hub.sessions()).toEqual([]);
    expect(await env.registry.getAgent('sim-1')).toMatchObject({ status: 'pending', credentialHash: '' });

    await env.hub.approve('sim-1');
    const { agent, credential } = await TestAgent.enroll(env.url, helloFor('sim-1'));
    expect(credential).toBeDefined();
    expect(env.hub.hostState('sim-1')).toBe('Connected');
    agent.close();
  });

  it('refuses re-enrollment with the bootstrap token when the id holds an approved credential', async () => {
    env = await startHub();
    const first = await TestAgent.enroll(env.url, helloFor('sim-1'));
    first.agent.close();
    await first.agent.closed;
    const reason =
      'agent sim-1 already holds an approved credential; to enroll it again run: gsectl agents reset sim-1';
    const { error, close } = await refused(env.url, helloFor('sim-1', { bootstrapToken: TOKEN }));
    expect(error).toMatchObject({ code: 'reenroll_refused', message: reason });
    expect(close.code).toBe(4003);
    // The held credential still works: nothing was rotated.
    const again = await TestAgent.enroll(env.url, helloFor('sim-1', { credential: first.credential! }));
    again.agent.close();
  });

  it('lets the next bootstrap enrollment in after a reset, closing the live session and voiding the old credential', async () => {
    env = await startHub();
    const first = await TestAgent.enroll(env.url, helloFor('sim-1'));
    const rec = await env.hub.reset('sim-1');
    expect(rec).toMatchObject({ status: 'approved', credentialHash: '' });
    expect(await first.agent.next((m) => m.type === 'error')).toMatchObject({ code: 'bad_credential' });
    expect((await first.agent.closed).code).toBe(4001);

    const second = await TestAgent.enroll(env.url, helloFor('sim-1'));
    expect(second.credential).toBeDefined();
    expect(second.credential).not.toBe(first.credential);
    second.agent.close();
    await second.agent.closed;
    const { error } = await refused(env.url, helloFor('sim-1', { credential: first.credential! }));
    expect(error).toMatchObject({ code: 'bad_credential' });
  });

  it('admits the re-enrollment after a reset even while the old session is still closing', async () => {
    env = await startHub();
    const first = await TestAgent.enroll(env.url, helloFor('sim-1'));
    await env.hub.reset('sim-1');
    // Not waiting for the old socket to close: a credential issued after a reset outranks it.
    const second = await TestAgent.enroll(env.url, helloFor('sim-1'));
    expect(second.credential).toBeDefined();
    await first.agent.closed;
    await second.agent.roundTrip();
    expect(env.hub.hostState('sim-1')).toBe('Connected');
    expect(env.hub.stats().duplicateSessionsRefused).toBe(0);
    second.agent.close();
  });

  it('puts a reset agent back to pending when autoApprove is off', async () => {
    env = await startHub({ autoApprove: false });
    await refused(env.url, helloFor('sim-1'));
    await env.hub.approve('sim-1');
    const first = await TestAgent.enroll(env.url, helloFor('sim-1'));
    expect(await env.hub.reset('sim-1')).toMatchObject({ status: 'pending', credentialHash: '' });
    await first.agent.closed;
    const { error } = await refused(env.url, helloFor('sim-1'));
    expect(error).toMatchObject({ code: 'pending_approval' });
    await env.hub.approve('sim-1');
    const back = await TestAgent.enroll(env.url, helloFor('sim-1'));
    expect(back.credential).toBeDefined();
    back.agent.close();
  });

  it('refuses to reset a revoked agent, naming approve', async () => {
    env = await startHub();
    (await TestAgent.enroll(env.url, helloFor('sim-1'))).agent.close();
    await env.hub.revoke('sim-1');
    await expect(env.hub.reset('sim-1')).rejects.toThrow(AgentStateError);
    await expect(env.hub.reset('sim-1')).rejects.toThrow('gsectl agents approve sim-1');
    await expect(env.hub.reset('nobody')).rejects.toThrow(AgentNotFoundError);
  });

  it('closes a connection with 4001 when no hello comes within helloTimeoutMs', async () => {
    const clock = new FakeClock();
    env = await startHub({ helloTimeoutMs: 1_000 }, { clock });
    const agent = await TestAgent.connect(env.url);
    clock.advance(999);
    await agent.ping();
    expect(agent.ws.readyState).toBe(WebSocket.OPEN);
    clock.advance(1);
    expect(await agent.closed).toEqual({ code: 4001, reason: 'no hello within 1000 ms' });
    expect(env.hub.stats().authFailures).toBe(1);
  });

  it('waits 5 s for a hello by default', async () => {
    const clock = new FakeClock();
    env = await startHub({}, { clock });
    const agent = await TestAgent.connect(env.url);
    clock.advance(4_999);
    await agent.ping();
    expect(agent.ws.readyState).toBe(WebSocket.OPEN);
    clock.advance(1);
    expect(await agent.closed).toEqual({ code: 4001, reason: 'no hello within 5000 ms' });
  });

  it('closes with 1009 when a frame before the hello exceeds the pre-auth limit', async () => {
    env = await startHub({ preAuthMaxFrameBytes: 1024 });
    const agent = await TestAgent.connect(env.url);
    agent.send('x'.repeat(1025));
    expect((await agent.closed).code).toBe(1009);
    expect(env.hub.stats().framesRejected.too_large).toBe(1);
    // A hello that fits, then a frame larger than the pre-auth limit once authenticated, is fine.
    const ok = await TestAgent.enroll(env.url, helloFor('sim-1'));
    ok.agent.send({
      v: 1,
      type: 'report',
      id: 'r1',
      manifestHash: '',
      revision: 'x'.repeat(4096),
      items: [],
    });
    await ok.agent.next((m) => m.type === 'ack' && m.ids.includes('r1'));
    ok.agent.close();
  });

  it('answers 503 with Retry-After when maxHandshakes connections are authenticating', async () => {
    env = await startHub({ maxHandshakes: 2 });
    const waiting = [await TestAgent.connect(env.url), await TestAgent.connect(env.url)];
    await waiting[1]?.ping();
    const ws = new WebSocket(env.url);
    const res = await new Promise<{ status?: number; retryAfter?: string }>((resolve) => {
      ws.on('unexpected-response', (_req, r) =>
        resolve({ status: r.statusCode, retryAfter: r.headers['retry-after'] }),
      );
      ws.on('error', () => resolve({}));
    });
    // Booked the first slot of the backlog: come back in a second (no fixed wait for every refused agent).
    expect(res).toEqual({ status: 503, retryAfter: '1' });
    expect(env.hub.stats().handshakesRejected).toBe(1);
    for (const w of waiting) w.close();
    await Promise.all(waiting.map((w) => w.closed));
    await vi.waitFor(() => expect(env?.hub.stats().handshaking).toBe(0));
    const { agent } = await TestAgent.enroll(env.url, helloFor('sim-1'));
    agent.close();
  });

  it('answers 404 when an upgrade asks for another path', async () => {
    env = await startHub();
    const ws = new WebSocket(env.url.replace('/agent', '/other'));
    const status = await new Promise<number | undefined>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.on('error', () => resolve(undefined));
    });
    expect(status).toBe(404);
  });

  it('throws AgentNotFoundError when an unknown agent is approved or revoked', async () => {
    env = await startHub();
    await expect(env.hub.approve('nobody')).rejects.toThrow(AgentNotFoundError);
    await expect(env.hub.revoke('nobody')).rejects.toThrow('agent nobody is not enrolled');
  });
});
