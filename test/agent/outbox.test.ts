import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../agent/engine/deps.js';
import { Spool } from '../../agent/engine/spool.js';
import { DATA_SEND_BUFFER_BYTES, Outbox } from '../../agent/outbox.js';
import type { SpooledMessage } from '../../src/protocol/messages.js';
import { type Sandbox, sandbox } from './engine/helpers.js';

const report = (id: string): SpooledMessage => ({
  v: 1,
  type: 'report',
  id,
  manifestHash: 'h',
  revision: 'r',
  items: [],
});
const result = (id: string): SpooledMessage => ({
  v: 1,
  type: 'execResult',
  id,
  taskId: `task-${id}`,
  reason: 'adhoc',
  exitCode: 0,
  signal: null,
  stdoutTail: '',
  stderrTail: '',
  startedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 1,
  timedOut: false,
  killed: false,
});
const data = (id: string): SpooledMessage => ({ v: 1, type: 'data', id, records: [] });
const event = (id: string): SpooledMessage => ({
  v: 1,
  type: 'event',
  id,
  event: { type: 'process.down', time: '2026-01-01T00:00:00.000Z', fields: {} },
});

/** A fake socket: records every frame sent; `open` false makes sends fail as on a closed socket. */
function wire() {
  const sent: string[] = [];
  const w = {
    sent,
    open: true,
    send: (msg: SpooledMessage) => {
      if (!w.open) return false;
      sent.push(msg.id);
      return true;
    },
  };
  return w;
}

describe('Outbox', () => {
  let box: Sandbox;
  const open: Outbox[] = [];
  const openOutbox = async () => {
    const o = await Outbox.open(box.dir, { logger: silentLogger });
    open.push(o);
    return o;
  };

  beforeEach(async () => {
    box = await sandbox('gse-outbox-');
  });
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
    await box.cleanup();
  });

  it('spools reports and results in the control lane and data and events in the data lane', async () => {
    const outbox = await openOutbox();
    await outbox.append(report('r1'));
    await outbox.append(result('x1'));
    await outbox.append(data('d1'));
    await outbox.append(event('e1'));
    expect(outbox.size('control')).toBe(2);
    expect(outbox.size('data')).toBe(2);
    expect((await readdir(join(box.dir, 'spool'))).some((f) => f.startsWith('seg-'))).toBe(true);
    expect((await readdir(join(box.dir, 'spool-data'))).some((f) => f.startsWith('seg-'))).toBe(true);
  });

  it('sends a report at once when the data lane is full of un-acked records', async () => {
    const outbox = await openOutbox();
    const w = wire();
    await outbox.connect({ control: 2, data: 2 }, w.send);
    for (let i = 1; i <= 5; i++) await outbox.append(data(`d${i}`));
    expect(w.sent).toEqual(['d1', 'd2']);
    expect(outbox.inFlight('data')).toBe(2);

    await outbox.append(report('r1'));
    await outbox.append(result('x1'));
    expect(w.sent).toEqual(['d1', 'd2', 'r1', 'x1']);
    // ...and the data lane still waits for its acks.
    await outbox.ack(['d1']);
    expect(w.sent).toEqual(['d1', 'd2', 'r1', 'x1', 'd3']);
  });

  it('hands a socket that takes encoded frames the spooled text, byte for byte what encoding gives', async () => {
    const outbox = await openOutbox();
    const frames: string[] = [];
    const parsed: string[] = [];
    await outbox.connect(
      { control: 4, data: 4 },
      {
        send: (msg) => parsed.push(msg.id) > 0,
        sendEncoded: (json) => frames.push(json) > 0,
        bufferedAmount: () => 0,
      },
    );
    const msgs = [report('r1'), data('d1'), event('e1')];
    for (const m of msgs) await outbox.append(m);
    expect(parsed).toEqual([]);
    expect(frames).toEqual(msgs.map((m) => JSON.stringify(m)));
  });

  it('sends control before data when a connection opens with both lanes pending', async () => {
    const outbox = await openOutbox();
    for (let i = 1; i <= 3; i++) await outbox.append(data(`d${i}`));
    await outbox.append(report('r1'));
    await outbox.append(event('e1'));
    await outbox.append(result('x1'));
    const w = wire();
    await outbox.connect({ control: 8, data: 8 }, w.send);
    expect(w.sent.slice(0, 2)).toEqual(['r1', 'x1']);
    expect(w.sent.slice(2)).toEqual(['d1', 'd2', 'd3', 'e1']);
  });

  it('fills a data window larger than one disk read, in order', async () => {
    const outbox = await openOutbox();
    for (let i = 1; i <= 30; i++) await outbox.append(data(`d${i}`));
    const w = wire();
    await outbox.connect({ control: 4, data: 20 }, w.send);
    expect(w.sent).toEqual(Array.from({ length: 20 }, (_, i) => `d${i + 1}`));
  });

  it('keeps the control lane within its own window', async () => {
    const outbox = await openOutbox();
    const w = wire();
    await outbox.connect({ control: 1, data: 4 }, w.send);
    await outbox.append(report('r1'));
    await outbox.append(report('r2'));
    await outbox.append(data('d1'));
    expect(w.sent).toEqual(['r1', 'd1']);
    await outbox.ack(['r1']);
    expect(w.sent).toEqual(['r1', 'd1', 'r2']);
  });

  it('sends every message exactly once when acks race appends', async () => {
    const outbox = await openOutbox();
    const w = wire();
    await outbox.connect({ control: 3, data: 3 }, w.send);
    const ids = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? `r${i}` : `d${i}`));
    const acked = new Set<string>();
    // Appends, and acks of whatever is in flight (empty ones too), run concurrently as on a live connection.
    const acker = (async () => {
      while (acked.size < ids.length) {
        const unacked = w.sent.filter((id) => !acked.has(id));
        for (const id of unacked) acked.add(id);
        await outbox.ack(unacked);
        await new Promise((r) => setImmediate(r));
      }
    })();
    await Promise.all(ids.map((id) => outbox.append(id.startsWith('r') ? report(id) : data(id))));
    await acker;
    expect(w.sent.length).toBe(ids.length);
    expect(new Set(w.sent)).toEqual(new Set(ids));
    expect(outbox.size()).toBe(0);
  });

  it('keeps un-acked messages of both lanes across a restart and forgets acked ones', async () => {
    const first = await openOutbox();
    const w1 = wire();
    await first.connect({ control: 4, data: 4 }, w1.send);
    await first.append(report('r1'));
    await first.append(report('r2'));
    await first.append(data('d1'));
    await first.append(data('d2'));
    await first.ack(['r1', 'd1']);
    await first.close();
    open.splice(open.indexOf(first), 1);

    const second = await openOutbox();
    expect(second.size('control')).toBe(1);
    expect(second.size('data')).toBe(1);
    expect(second.highWater()).toBe(4);
    const w2 = wire();
    await second.connect({ control: 4, data: 4 }, w2.send);
    expect(w2.sent).toEqual(['r2', 'd2']);
  });

  it('re-sends what was in flight after a reconnect, and one message after retry', async () => {
    const outbox = await openOutbox();
    const w1 = wire();
    await outbox.connect({ control: 4, data: 4 }, w1.send);
    await outbox.append(report('r1'));
    await outbox.append(data('d1'));
    outbox.disconnect();
    await outbox.append(report('r2')); // spooled while disconnected: not sent
    expect(w1.sent).toEqual(['r1', 'd1']);

    const w2 = wire();
    await outbox.connect({ control: 4, data: 4 }, w2.send);
    expect(w2.sent).toEqual(['r1', 'r2', 'd1']);
    await outbox.retry('d1');
    expect(w2.sent).toEqual(['r1', 'r2', 'd1', 'd1']);
    await outbox.retry('unknown-id');
    expect(w2.sent).toHaveLength(4);
  });

  it('stops at a closed socket and sends the rest on the next connection', async () => {
    const outbox = await openOutbox();
    const w = wire();
    await outbox.connect({ control: 4, data: 4 }, w.send);
    w.open = false;
    await outbox.append(report('r1'));
    expect(w.sent).toEqual([]);
    expect(outbox.inFlight('control')).toBe(0);
    const w2 = wire();
    await outbox.connect({ control: 4, data: 4 }, w2.send);
    expect(w2.sent).toEqual(['r1']);
  });

  it('sends data an older agent version left in the single spool, from the control lane', async () => {
    const legacy = await Spool.open(join(box.dir, 'spool'));
    await legacy.append(data('old-d1'));
    await legacy.append(report('old-r1'));
    await legacy.close();
    const outbox = await openOutbox();
    expect(outbox.size('control')).toBe(2);
    const w = wire();
    await outbox.connect({ control: 4, data: 4 }, w.send);
    expect(w.sent).toEqual(['old-d1', 'old-r1']);
    await outbox.ack(['old-d1', 'old-r1']);
    expect(outbox.size()).toBe(0);
  });

  it('holds data back while the socket has a megabyte unsent, but never a report', async () => {
    const outbox = await openOutbox();
    const sent: string[] = [];
    let buffered = DATA_SEND_BUFFER_BYTES + 1;
    await outbox.connect(
      { control: 4, data: 4 },
      {
        send: (msg) => {
          sent.push(msg.id);
          return true;
        },
        bufferedAmount: () => buffered,
      },
    );
    await outbox.append(data('d1'));
    await outbox.append(report('r1'));
    expect(sent).toEqual(['r1']);
    buffered = 0;
    await waitFor(() => sent.includes('d1'));
    expect(sent).toEqual(['r1', 'd1']);
  });

  it('sends no data while control work holds it, and all of it on the flush after', async () => {
    let held = true;
    const outbox = await Outbox.open(box.dir, { logger: silentLogger, dataHeld: () => held });
    open.push(outbox);
    const w = wire();
    await outbox.connect({ control: 4, data: 4 }, w.send);
    await outbox.append(data('d1'));
    await outbox.append(result('x1'));
    await outbox.append(data('d2'));
    expect(w.sent).toEqual(['x1']);
    expect(outbox.size('data')).toBe(2);
    held = false;
    await outbox.flush();
    expect(w.sent).toEqual(['x1', 'd1', 'd2']);
  });
});

/** Polls until `check` holds (the data lane looks again on a short timer). */
async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}
