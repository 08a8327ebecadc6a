import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { AgentNotFoundError } from '../../src/fleet/errors.js';
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

  it('rotates the credential when an approved agent enrolls again with the bootstrap token', async () => {
    env = await startHub();
    const first = await TestAgent.enroll(env.url, helloFor('sim-1'));
    first.agent.close();
    await first.agent.closed;
    const second = await TestAgent.enroll(env.url, helloFor('sim-1', { bootstrapToken: TOKEN }));
    expect(second.credential).toBeDefined();
    expect(second.credential).not.toBe(first.credential);
    second.agent.close();
    await second.agent.closed;

    const { error } = await refused(env.url, helloFor('sim-1', { credential: first.credential! }));
    expect(error).toMatchObject({ code: 'bad_credential' });
    const third = await TestAgent.enroll(env.url, helloFor('sim-1', { credential: second.credential! }));
    third.agent.close();
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
