import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SpooledMessage } from '../../src/protocol/messages.js';
import { deferred, helloFor, reportFrame, startHub, TestAgent, type TestHub } from './harness.js';

const dataFrame = (id: string): SpooledMessage => ({ v: 1, type: 'data', id, records: [] });

let env: TestHub | undefined;

afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('FleetHub acks', () => {
  it('acks a message only after the handler resolves', async () => {
    env = await startHub();
    const gate = deferred();
    env.handlers.impl = () => gate.promise;
    const { agent } = await TestAgent.enroll(env.url, helloFor('sim-1'));

    agent.send(reportFrame('r-1'));
    await vi.waitFor(() => expect(env?.handlers.messages).toHaveLength(1));
    // The heartbeat answer comes after anything the hub sent for r-1 so far: there must be no ack yet.
    await agent.roundTrip();
    expect(agent.ackedIds()).toEqual([]);

    gate.resolve();
    expect(await agent.next((m) => m.type === 'ack')).toEqual({ v: 1, type: 'ack', ids: ['r-1'] });
    expect(env.handlers.messages[0]).toEqual({ agentId: 'sim-1', msg: reportFrame('r-1') });
    agent.close();
  });

  it("holds a new session's messages until onConnect settles, or until it calls ready", async () => {
    for (const callsReady of [false, true]) {
      env = await startHub();
      const gate = deferred();
      env.handlers.onConnect = async (_session, ready) => {
        if (callsReady) ready();
        await gate.promise;
      };
      const { agent } = await TestAgent.enroll(env.url, helloFor('sim-1'));
      agent.send(reportFrame('r-1'));
      if (callsReady) {
        expect(await agent.next((m) => m.type === 'ack')).toEqual({ v: 1, type: 'ack', ids: ['r-1'] });
      } else {
        await agent.roundTrip();
        expect(env.handlers.messages).toEqual([]);
      }
      gate.resolve();
      await vi.waitFor(() => expect(agent.ackedIds()).toEqual(['r-1']));
      expect(env.handlers.messages.map((m) => m.msg.id)).toEqual(['r-1']);
      agent.close();
      await env.close();
      env = undefined;
    }
  });

  it('sends an error and no ack when the handler throws', async () => {
    env = await startHub();
    env.handlers.impl = async () => {
      throw new Error('disk full');
    };
    const { agent } = await TestAgent.enroll(env.url, helloFor('sim-1'));
    agent.send(reportFrame('r-1'));
    const error = await agent.next((m) => m.type === 'error');
    expect(error).toEqual({
      v: 1,
      type: 'error',
      code: 'handler_failed',
      message: 'report r-1 was not stored; re-send it',
      ref: 'r-1',
    });
    await agent.roundTrip();
    expect(agent.ackedIds()).toEqual([]);
    expect(env.hub.stats()).toMatchObject({ handlerErrors: 1, messagesHandled: 0, acksSent: 0 });
    expect(agent.ws.readyState).toBe(agent.ws.OPEN);
    agent.close();
  });

  it('coalesces acks into one frame when several handlers resolve in the same tick', async () => {
    env = await startHub();
    const gate = deferred();
    env.handlers.impl = () => gate.promise;
    const { agent } = await TestAgent.enroll(env.url, helloFor('sim-1'));
    for (const id of ['a', 'b', 'c', 'd']) agent.send(reportFrame(id));
    await vi.waitFor(() => expect(env?.handlers.messages).toHaveLength(4));
    gate.resolve();
    const ack = await agent.next((m) => m.type === 'ack');
    expect(ack).toEqual({ v: 1, type: 'ack', ids: ['a', 'b', 'c', 'd'] });
    expect(env.hub.stats()).toMatchObject({ acksSent: 1, idsAcked: 4, messagesHandled: 4 });
    agent.close();
  });

  it('keeps at most `window` handler calls in flight when the handler blocks', async () => {
    const window = 4;
    const total = 40;
    env = await startHub({ window });
    let running = 0;
    let maxRunning = 0;
    const gates: (() => void)[] = [];
    env.handlers.impl = () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      return new Promise<void>((resolve) => {
        gates.push(() => {
          running--;
          resolve();
        });
      });
    };
    const { agent } = await TestAgent.enroll(env.url, helloFor('sim-1'));
    expect(await agent.next((m) => m.type === 'welcome')).toMatchObject({ window });

    for (let i = 0; i < total; i++) agent.send({ ...reportFrame(`r-${i}`), revision: 'x'.repeat(2_000) });
    await vi.waitFor(() => expect(env?.hub.stats().pausedSessions).toBe(1));
    await vi.waitFor(() => expect(env?.handlers.messages).toHaveLength(window));
    expect(running).toBe(window);
    expect(env.hub.stats().inFlight).toBe(window);

    // Release one call at a time; each frees exactly one slot.
    while (env.handlers.messages.length < total || gates.length > 0) {
      await vi.waitFor(() => expect(gates.length).toBeGreaterThan(0));
      gates.shift()?.();
    }
    await vi.waitFor(() => expect(agent.ackedIds()).toHaveLength(total));
    expect(new Set(agent.ackedIds()).size).toBe(total);
    expect(maxRunning).toBe(window);
    expect(env.handlers.messages.map((m) => m.msg.id)).toEqual(
      Array.from({ length: total }, (_, i) => `r-${i}`),
    );
    await vi.waitFor(() =>
      expect(env?.hub.stats()).toMatchObject({ pausedSessions: 0, inFlight: 0, queued: 0 }),
    );
    agent.close();
  });

  it('handles reports and answers heartbeats while every data handler is blocked', async () => {
    const window = 4;
    env = await startHub({ window });
    const never = deferred();
    env.handlers.impl = async (_id, msg) => {
      if (msg.type === 'data') await never.promise;
    };
    const { agent } = await TestAgent.enroll(env.url, helloFor('sim-1'));
    for (let i = 0; i < window; i++) agent.send(dataFrame(`d-${i}`));
    await vi.waitFor(() => expect(env?.handlers.messages).toHaveLength(window));

    agent.send(reportFrame('r-1'));
    expect(await agent.next((m) => m.type === 'ack')).toEqual({ v: 1, type: 'ack', ids: ['r-1'] });
    await agent.roundTrip();
    expect(env.hub.stats()).toMatchObject({ pausedSessions: 0, inFlight: window });
    never.resolve();
    await vi.waitFor(() => expect(agent.ackedIds()).toHaveLength(window + 1));
    agent.close();
  });

  it('closes a session that sends more data frames than its window allows', async () => {
    env = await startHub({ window: 2 });
    const never = deferred();
    env.handlers.impl = () => never.promise;
    const { agent } = await TestAgent.enroll(env.url, helloFor('sim-1'));
    for (let i = 0; i < 5; i++) agent.send(dataFrame(`d-${i}`));
    expect(await agent.closed).toEqual({
      code: 1008,
      reason: 'too many data frames in flight; honour the data window',
    });
    expect(env.handlers.messages).toHaveLength(2);
    never.resolve();
  });

  it('acks a replayed id again without handling it twice', async () => {
    env = await startHub();
    const { agent } = await TestAgent.enroll(env.url, helloFor('sim-1'));
    agent.send(reportFrame('r-1'));
    await vi.waitFor(() => expect(agent.ackedIds()).toEqual(['r-1']));
    agent.send(reportFrame('r-1'));
    agent.send(dataFrame('d-1'));
    agent.send(dataFrame('d-1'));
    await vi.waitFor(() => expect(agent.ackedIds()).toEqual(['r-1', 'r-1', 'd-1', 'd-1']));
    expect(env.handlers.messages.map((m) => m.msg.id)).toEqual(['r-1', 'd-1']);
    expect(env.hub.stats()).toMatchObject({ replaysIgnored: 2, messagesHandled: 2 });
    agent.close();
  });

  it('acks an id re-sent after a reconnect without handling it again', async () => {
    env = await startHub();
    const gate = deferred();
    env.handlers.impl = () => gate.promise;
    const first = await TestAgent.enroll(env.url, helloFor('sim-1'));
    first.agent.send(reportFrame('r-1'));
    await vi.waitFor(() => expect(env?.handlers.messages).toHaveLength(1));
    // The connection drops while r-1 is being handled: its ack is lost, and the agent sends it again.
    first.agent.close();
    const again = await TestAgent.enroll(
      env.url,
      helloFor('sim-1', { credential: first.credential as string }),
    );
    again.agent.send(reportFrame('r-1'));
    await again.agent.roundTrip();
    expect(again.agent.ackedIds()).toEqual([]);
    gate.resolve();
    await vi.waitFor(() => expect(again.agent.ackedIds()).toEqual(['r-1']));
    expect(env.handlers.messages.map((m) => m.msg.id)).toEqual(['r-1']);
    // Handled and remembered: a later replay is acked at once.
    again.agent.send(reportFrame('r-1'));
    await vi.waitFor(() => expect(again.agent.ackedIds()).toEqual(['r-1', 'r-1']));
    expect(env.handlers.messages).toHaveLength(1);
    again.agent.close();
  });

  it('handles a re-sent id again when its first handling failed', async () => {
    env = await startHub();
    let calls = 0;
    env.handlers.impl = async () => {
      calls++;
      if (calls === 1) throw new Error('store busy');
    };
    const { agent } = await TestAgent.enroll(env.url, helloFor('sim-1'));
    agent.send(reportFrame('r-1'));
    await agent.next((m) => m.type === 'error');
    agent.send(reportFrame('r-1'));
    await vi.waitFor(() => expect(agent.ackedIds()).toEqual(['r-1']));
    expect(calls).toBe(2);
    agent.close();
  });
});
