import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeClock, helloFor, startHub, TestAgent, type TestHub } from './harness.js';

let env: TestHub | undefined;

afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('FleetHub sessions', () => {
  it('refuses a second connection with 4009 while the first is live, and replaces it once it went silent', async () => {
    const clock = new FakeClock();
    env = await startHub({ heartbeatMs: 1_000 }, { clock });
    const first = await TestAgent.enroll(env.url, helloFor('sim-1'));
    const hello = helloFor('sim-1', { credential: first.credential! });

    const twin = await TestAgent.connect(env.url);
    twin.send(hello);
    const reason = expect.stringContaining('a session for agent sim-1 is already live');
    expect(await twin.next((m) => m.type === 'error')).toMatchObject({ code: 'session_live' });
    expect(await twin.closed).toEqual({ code: 4009, reason });
    expect(env.hub.stats().duplicateSessionsRefused).toBe(1);
    await first.agent.roundTrip();
    expect(env.hub.hostState('sim-1')).toBe('Connected');

    // Silent beyond unknownAfterMs (3 heartbeats): the old session may be replaced.
    clock.advance(3_001);
    expect(env.hub.hostState('sim-1')).toBe('Unknown');
    const second = await TestAgent.enroll(env.url, hello);
    expect(await first.agent.closed).toEqual({ code: 4000, reason: 'replaced by a newer connection' });
    expect(env.hub.sessions().map((s) => s.agentId)).toEqual(['sim-1']);
    expect(env.hub.stats().sessionsReplaced).toBe(1);
    await second.agent.roundTrip();
    expect(env.hub.hostState('sim-1')).toBe('Connected');
    await vi.waitFor(() =>
      expect(env?.handlers.calls).toEqual([
        'connect sim-1',
        'disconnect sim-1: replaced by a newer connection',
        'connect sim-1',
      ]),
    );
  });

  it('lists sessions sorted by id as agents come and go', async () => {
    env = await startHub();
    const c = await TestAgent.enroll(env.url, helloFor('sim-c'));
    const a = await TestAgent.enroll(env.url, helloFor('sim-a'));
    const ids = () => env?.hub.sessions().map((s) => s.agentId);
    expect(ids()).toEqual(['sim-a', 'sim-c']);
    const b = await TestAgent.enroll(env.url, helloFor('sim-b'));
    expect(ids()).toEqual(['sim-a', 'sim-b', 'sim-c']);
    expect(env.hub.connectedCount).toBe(3);
    a.agent.close();
    await vi.waitFor(() => expect(ids()).toEqual(['sim-b', 'sim-c']));
    expect(env.hub.connectedCount).toBe(2);
    expect(env.hub.stats().connected).toBe(2);
    const a2 = await TestAgent.enroll(env.url, helloFor('sim-a', { credential: a.credential! }));
    expect(ids()).toEqual(['sim-a', 'sim-b', 'sim-c']);
    for (const x of [a2, b, c]) x.agent.close();
  });

  it('lets a new connection in at once when the old one closed', async () => {
    env = await startHub();
    const first = await TestAgent.enroll(env.url, helloFor('sim-1'));
    first.agent.close();
    await first.agent.closed;
    const second = await TestAgent.enroll(env.url, helloFor('sim-1', { credential: first.credential! }));
    await second.agent.roundTrip();
    expect(env.hub.stats().duplicateSessionsRefused).toBe(0);
    second.agent.close();
  });

  it('lists a session with its facts and times when an agent is connected', async () => {
    const clock = new FakeClock();
    env = await startHub({}, { clock });
    const { agent } = await TestAgent.enroll(env.url, helloFor('sim-2'));
    const [session] = env.hub.sessions();
    expect(session).toMatchObject({
      agentId: 'sim-2',
      facts: { name: 'sim-2', ips: ['127.0.0.1'] },
      connectedAt: new Date(clock.now()).toISOString(),
      lastSeen: new Date(clock.now()).toISOString(),
      remoteAddress: '127.0.0.1',
      status: 'Connected',
      manifestHash: '',
    });
    expect(env.hub.stats().connected).toBe(1);
    agent.close();
  });

  it('reports Unknown when the heartbeat is overdue, and Connected again when a frame comes', async () => {
    const clock = new FakeClock();
    env = await startHub({ heartbeatMs: 1_000 }, { clock });
    const { agent } = await TestAgent.enroll(env.url, helloFor('sim-1'));
    expect(env.hub.hostState('sim-1')).toBe('Connected');

    clock.advance(3_000);
    expect(env.hub.hostState('sim-1')).toBe('Connected');
    clock.advance(1);
    expect(env.hub.hostState('sim-1')).toBe('Unknown');
    expect(env.hub.sessions()[0]?.status).toBe('Unknown');
    expect([...env.hub.silentAgentIds()]).toEqual(['sim-1']);
    expect(env.hub.connectedCount).toBe(1);

    await agent.roundTrip();
    expect(env.hub.hostState('sim-1')).toBe('Connected');
    expect(env.hub.silentAgentIds().size).toBe(0);
    expect(env.hub.session('sim-1')?.lastSeen).toBe(new Date(clock.now()).toISOString());

    agent.close();
    await vi.waitFor(() => expect(env?.hub.hostState('sim-1')).toBe('Disconnected'));
    expect(env.handlers.calls.at(-1)).toMatch(/^disconnect sim-1: /);
  });

  it('answers a heartbeat with a heartbeat when the agent sends one', async () => {
    env = await startHub();
    const { agent } = await TestAgent.enroll(env.url, helloFor('sim-1'));
    agent.send({ v: 1, type: 'heartbeat', time: '2024-01-01T00:00:00Z' });
    const reply = await agent.next((m) => m.type === 'heartbeat');
    expect(reply).toEqual({ v: 1, type: 'heartbeat', time: new Date(env.clock.now()).toISOString() });
    agent.close();
  });

  it('delivers hub.send to the agent when it is connected, and returns false when it is not', async () => {
    env = await startHub();
    const { agent } = await TestAgent.enroll(env.url, helloFor('sim-1'));
    const exec = {
      v: 1,
      type: 'exec',
      id: 'x-1',
      taskId: 't-1',
      script: 'true',
      timeoutMs: 1_000,
      reason: 'adhoc',
    } as const;
    expect(env.hub.send('sim-1', exec)).toBe(true);
    expect(await agent.next((m) => m.type === 'exec')).toEqual(exec);
    expect(env.hub.send('sim-9', exec)).toBe(false);
    agent.close();
  });

  it('closes every session with 1001 and reports the disconnects when the hub closes', async () => {
    env = await startHub();
    const a = await TestAgent.enroll(env.url, helloFor('sim-1'));
    const b = await TestAgent.enroll(env.url, helloFor('sim-2'));
    const waiting = await TestAgent.connect(env.url);
    await env.hub.close();
    expect(env.hub.status).toBe('closed');
    for (const agent of [a.agent, b.agent, waiting]) {
      expect(await agent.closed).toEqual({ code: 1001, reason: 'controller shutting down' });
    }
    expect(env.hub.sessions()).toEqual([]);
    expect(env.handlers.calls.filter((c) => c.startsWith('disconnect')).sort()).toEqual([
      'disconnect sim-1: controller shutting down',
      'disconnect sim-2: controller shutting down',
    ]);
  });
});
