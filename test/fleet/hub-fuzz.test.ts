import { afterEach, describe, expect, it } from 'vitest';
import { decodeAgentFrame } from '../../src/protocol/codec.js';
import { seededRandom } from '../helpers/random.js';
import * as f from '../protocol/fixtures.js';
import { helloFor, reportFrame, startHub, TestAgent, type TestHub } from './harness.js';

const SEED = 0x5eed;
const MAX_BAD_FRAMES = 25;
const BATCHES = 12;
const MAX_FRAME_BYTES = 64 * 1024;

/** mulberry32: a small seeded PRNG, so a failure replays exactly. */
const prng = seededRandom;

interface BadFrame {
  data: string | Buffer;
  /** The error code the hub must answer with. */
  code: string;
}

/** Generates frames the hub must refuse, each with the code it must refuse it with. */
function badFrames(random: () => number) {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const text = (n: number) =>
    Array.from({ length: n }, () => String.fromCharCode(32 + Math.floor(random() * 95))).join('');
  const valid = [f.report, f.event, f.data, f.execResult, f.heartbeat, f.hello];
  const junkValues = [null, -1, 1.5, 'x', '', true, [], {}, 'é'.repeat(3), 2 ** 60];

  const mutated = (): BadFrame | undefined => {
    const msg = structuredClone(pick(valid)) as Record<string, unknown>;
    const paths: (string | number)[][] = [];
    const walk = (value: unknown, path: (string | number)[]) => {
      if (path.length > 0) paths.push(path);
      if (!value || typeof value !== 'object') return;
      for (const [k, v] of Object.entries(value)) walk(v, [...path, Array.isArray(value) ? Number(k) : k]);
    };
    walk(msg, []);
    const path = pick(paths);
    let parent: unknown = msg;
    for (const key of path.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[key];
    const last = path[path.length - 1] as string | number;
    if (random() < 0.2) delete (parent as Record<string | number, unknown>)[last];
    else (parent as Record<string | number, unknown>)[last] = structuredClone(pick(junkValues));
    const data = JSON.stringify(msg);
    const decoded = decodeAgentFrame(data, MAX_FRAME_BYTES);
    if (decoded.ok) return decoded.msg.type === 'hello' ? { data, code: 'out_of_order' } : undefined;
    return { data, code: decoded.code };
  };

  const generators: (() => BadFrame | undefined)[] = [
    () => {
      const data = text(1 + Math.floor(random() * 40));
      try {
        JSON.parse(data);
        return undefined;
      } catch {
        return { data, code: 'bad_json' };
      }
    },
    () => ({ data: JSON.stringify(pick([1, 'hello', null, [f.report], true])), code: 'bad_frame' }),
    () => ({ data: JSON.stringify({ ...f.report, v: pick([0, 2, '1', null]) }), code: 'bad_version' }),
    () => ({ data: JSON.stringify({ v: 1, type: text(6) }), code: 'unknown_type' }),
    () => ({ data: JSON.stringify(pick([f.welcome, f.ack, f.exec, f.manifestFull])), code: 'unknown_type' }),
    () => ({ data: JSON.stringify(helloFor('sim-fuzz')), code: 'out_of_order' }),
    () => ({ data: Buffer.from(JSON.stringify(f.heartbeat)), code: 'bad_frame' }),
    mutated,
    mutated,
    mutated,
  ];
  return (): BadFrame => {
    for (;;) {
      const frame = pick(generators)();
      if (frame) return frame;
    }
  };
}

let env: TestHub | undefined;

afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('FleetHub robustness', () => {
  it('refuses and counts malformed frames while a well-behaved agent keeps being served', async () => {
    env = await startHub({ maxBadFrames: MAX_BAD_FRAMES, maxFrameBytes: MAX_FRAME_BYTES });
    const url = env.url;
    const random = prng(SEED);
    const next = badFrames(random);
    const expected: Record<string, number> = {};
    const count = (code: string) => {
      expected[code] = (expected[code] ?? 0) + 1;
    };

    const good = await TestAgent.enroll(url, helloFor('sim-good'));
    const goodSince = env.hub.session('sim-good')?.connectedAt;
    const fuzz = await TestAgent.enroll(url, helloFor('sim-fuzz'));
    let fuzzer = fuzz.agent;
    let badCloses = 0;

    for (let batch = 0; batch < BATCHES; batch++) {
      good.agent.send(reportFrame(`good-${batch}`));
      // Every third batch goes one frame over the limit, which must close the connection with 1008.
      const overLimit = batch % 3 === 2;
      const frames = Array.from({ length: MAX_BAD_FRAMES + (overLimit ? 1 : 0) }, next);
      const before = fuzzer.received.length;
      for (const frame of frames) {
        fuzzer.ws.send(frame.data, { binary: Buffer.isBuffer(frame.data) });
        count(frame.code);
      }
      if (overLimit) {
        expect(await fuzzer.closed).toEqual({
          code: 1008,
          reason: `too many bad frames (${MAX_BAD_FRAMES + 1})`,
        });
        badCloses++;
      } else {
        await fuzzer.roundTrip();
      }
      const errors = fuzzer.received.slice(before).filter((m) => m.type === 'error');
      const codes = errors.map((m) => (m.type === 'error' ? m.code : ''));
      expect(codes).toEqual(
        overLimit
          ? [...frames.slice(0, -1).map((fr) => fr.code), 'too_many_bad_frames']
          : frames.map((fr) => fr.code),
      );
      expect(fuzzer.garbage).toEqual([]);
      await good.agent.next((m) => m.type === 'ack' && m.ids.includes(`good-${batch}`));
      // The bad-frame count is per connection: go on with a fresh one (a live twin would be refused, so close it).
      if (!overLimit) {
        fuzzer.close();
        await fuzzer.closed;
      }
      fuzzer = (await TestAgent.enroll(url, helloFor('sim-fuzz', { credential: fuzz.credential! }))).agent;
    }

    // Garbage before any hello, and a frame over the size limit, each on their own connection.
    for (let i = 0; i < 5; i++) {
      const raw = await TestAgent.connect(url);
      let frame = next();
      while (frame.code === 'out_of_order') frame = next();
      raw.send(frame.data.toString());
      count('not_authenticated');
      expect((await raw.closed).code).toBe(4001);
    }
    const big = await TestAgent.connect(url);
    big.send('x'.repeat(MAX_FRAME_BYTES + 1));
    count('too_large');
    expect((await big.closed).code).toBe(1009);

    const stats = env.hub.stats();
    expect(stats.framesRejected).toEqual(expected);
    expect(stats.badFrameCloses).toBe(badCloses);
    expect(stats.handlerErrors).toBe(0);
    expect(env.handlers.messages.map((m) => m.agentId)).toEqual(Array(BATCHES).fill('sim-good'));
    expect(env.hub.session('sim-good')?.connectedAt).toBe(goodSince);
    expect(env.hub.hostState('sim-good')).toBe('Connected');
    good.agent.send(reportFrame('good-last'));
    await good.agent.next((m) => m.type === 'ack' && m.ids.includes('good-last'));
  });
});
