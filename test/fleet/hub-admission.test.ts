/** The hub paces handshakes: past the burst, upgrades get 503 with a retry-after that books later slots. */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FakeClock, helloFor, startHub, TestAgent, type TestHub } from './harness.js';

let env: TestHub | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

/** One upgrade attempt: the HTTP status and retry-after headers when refused, 101 when let in. */
function knock(url: string): Promise<{ status: number; retryAfter?: string; retryAfterMs?: string }> {
  const ws = new WebSocket(url);
  return new Promise((resolve) => {
    ws.on('unexpected-response', (_req, res) => {
      resolve({
        status: res.statusCode ?? 0,
        retryAfter: res.headers['retry-after'] as string | undefined,
        retryAfterMs: res.headers['x-retry-after-ms'] as string | undefined,
      });
      ws.terminate();
    });
    ws.on('open', () => {
      resolve({ status: 101 });
      ws.close();
    });
    ws.on('error', () => {});
  });
}

describe('FleetHub admission pacing', () => {
  it('admits the burst, then answers 503 with growing retry-afters, and admits again once time refilled the bucket', async () => {
    const clock = new FakeClock();
    env = await startHub({ admissionRate: 10, admissionBurst: 2 }, { clock });
    const first = await TestAgent.enroll(env.url, helloFor('a-1'));
    const second = await TestAgent.enroll(env.url, helloFor('a-2'));
    // Bucket empty; at 10/s each refused upgrade is booked 100 ms after the one before.
    expect(await knock(env.url)).toEqual({ status: 503, retryAfter: '1', retryAfterMs: '100' });
    expect(await knock(env.url)).toEqual({ status: 503, retryAfter: '1', retryAfterMs: '200' });
    expect(env.hub.stats().handshakesRejected).toBe(2);
    // 300 ms later: three tokens refilled, the backlog of two drained.
    clock.advance(300);
    const third = await TestAgent.enroll(env.url, helloFor('a-3'));
    expect(env.hub.stats().connected).toBe(3);
    for (const a of [first, second, third]) a.agent.close();
  });

  it('never refuses when pacing is off (admissionRate 0)', async () => {
    env = await startHub({ admissionRate: 0, admissionBurst: 1 });
    for (let i = 0; i < 5; i++) expect((await knock(env.url)).status).toBe(101);
    expect(env.hub.stats().handshakesRejected).toBe(0);
  });
});
