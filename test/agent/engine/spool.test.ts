import { appendFile, open as openFile, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpoolClosedError } from '../../../agent/engine/errors.js';
import { encodeRecord } from '../../../agent/engine/record-log.js';
import { FRESH_TEXT_MAX_CHARS, Spool } from '../../../agent/engine/spool.js';
import { eventMessage, type Sandbox, sandbox } from './helpers.js';

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith('seg-')).sort();
}

describe('Spool', () => {
  let box: Sandbox;
  let dir: string;
  const open: Spool[] = [];
  const openSpool = async (options?: Parameters<typeof Spool.open>[1]) => {
    const s = await Spool.open(dir, options);
    open.push(s);
    return s;
  };

  beforeEach(async () => {
    box = await sandbox('gse-spool-');
    dir = join(box.dir, 'spool');
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    await box.cleanup();
  });

  it('returns appended messages in append order when nothing is acked', async () => {
    const spool = await openSpool();
    const seqs = [];
    for (let i = 1; i <= 3; i++) seqs.push(await spool.append(eventMessage(i)));
    expect(seqs).toEqual([1, 2, 3]);
    const pending = await spool.pending();
    expect(pending.map((e) => e.message.id)).toEqual(['ev-1', 'ev-2', 'ev-3']);
    expect(pending[1]?.message).toEqual(eventMessage(2));
    expect(spool.size()).toBe(3);
    expect(spool.bytes()).toBeGreaterThan(0);
    expect(spool.highWater()).toBe(3);
  });

  it('honours limit and afterSeq when paging through pending messages', async () => {
    const spool = await openSpool();
    await Promise.all([1, 2, 3, 4, 5].map((i) => spool.append(eventMessage(i))));
    expect((await spool.pending(2)).map((e) => e.seq)).toEqual([1, 2]);
    expect((await spool.pending(2, 2)).map((e) => e.seq)).toEqual([3, 4]);
    expect((await spool.pending(undefined, 4)).map((e) => e.seq)).toEqual([5]);
  });

  it('gives pending messages as the exact text JSON.stringify made of them, also after a reopen', async () => {
    const spool = await openSpool();
    const odd = { ...eventMessage(2), id: 'ev-"2",\\"m":' };
    for (const m of [eventMessage(1), odd, eventMessage(3)]) await spool.append(m);
    const encoded = await spool.pendingEncoded(2, 1);
    expect(encoded.map((e) => [e.seq, e.id])).toEqual([
      [2, odd.id],
      [3, 'ev-3'],
    ]);
    expect(encoded[0]?.json).toBe(JSON.stringify(odd));
    await spool.close();
    const again = await openSpool();
    expect((await again.pendingEncoded()).map((e) => e.json)).toEqual(
      [eventMessage(1), odd, eventMessage(3)].map((m) => JSON.stringify(m)),
    );
  });

  it('skips a pending record whose bytes changed on disk after it was read in', async () => {
    const first = await openSpool();
    for (let i = 1; i <= 3; i++) await first.append(eventMessage(i));
    await first.close();
    // Reopened: the bodies now come from disk (only messages this process appended are held as text).
    const spool = await openSpool();
    const [seg] = await segmentFiles(dir);
    const file = join(dir, seg as string);
    const text = await readFile(file, 'latin1');
    const at = text.indexOf('ev-2');
    const fh = await openFile(file, 'r+');
    await fh.write('EV', at);
    await fh.close();
    expect((await spool.pendingEncoded()).map((e) => e.id)).toEqual(['ev-1', 'ev-3']);
  });

  it('gives the same text from memory and from disk when the fresh texts outgrow their bound', async () => {
    const spool = await openSpool();
    // 1.5 Mi characters each: the third message no longer fits the 4 Mi characters held as text.
    const big = (i: number) => ({
      ...eventMessage(i),
      data: { blob: String(i).repeat(Math.floor(FRESH_TEXT_MAX_CHARS / 2.7)) },
    });
    const msgs = [1, 2, 3, 4].map(big);
    for (const m of msgs) await spool.append(m as never);
    expect((await spool.pendingEncoded()).map((e) => e.json)).toEqual(msgs.map((m) => JSON.stringify(m)));
    // Acked, the first two free their share: the next appends are held as text again.
    await spool.ack(['ev-1', 'ev-2']);
    await spool.append(eventMessage(5));
    expect((await spool.pendingEncoded(10, 4)).map((e) => e.json)).toEqual([JSON.stringify(eventMessage(5))]);
    // Read once, the text is let go: a re-send (after a reconnect) reads the same text from the segment.
    expect((await spool.pendingEncoded(10, 4)).map((e) => e.json)).toEqual([JSON.stringify(eventMessage(5))]);
  });

  it('hands a message to the sender from memory once, then from disk, the same text both times', async () => {
    const spool = await openSpool();
    for (let i = 1; i <= 3; i++) await spool.append(eventMessage(i));
    const first = await spool.pendingEncoded();
    const [seg] = await segmentFiles(dir);
    // Break ev-2 on disk: the first read came from memory, the re-read comes from the file and skips it.
    const file = join(dir, seg as string);
    const at = (await readFile(file, 'latin1')).indexOf('ev-2');
    const fh = await openFile(file, 'r+');
    await fh.write('EV', at);
    await fh.close();
    expect(first.map((e) => e.id)).toEqual(['ev-1', 'ev-2', 'ev-3']);
    expect((await spool.pendingEncoded()).map((e) => e.id)).toEqual(['ev-1', 'ev-3']);
  });

  it('forgets acked messages and keeps the rest when reopened', async () => {
    const spool = await openSpool();
    for (let i = 1; i <= 4; i++) await spool.append(eventMessage(i));
    expect(await spool.ack(['ev-2', 'ev-4', 'unknown'])).toBe(2);
    expect(await spool.ack(['ev-2'])).toBe(0);
    expect(spool.size()).toBe(2);
    await spool.close();
    const again = await openSpool();
    expect((await again.pending()).map((e) => e.message.id)).toEqual(['ev-1', 'ev-3']);
    expect(again.highWater()).toBe(4);
    expect(await again.append(eventMessage(5))).toBe(5);
  });

  it('ignores a torn last record when the process died mid-write', async () => {
    const spool = await openSpool();
    for (let i = 1; i <= 3; i++) await spool.append(eventMessage(i));
    await spool.close();
    const [seg] = await segmentFiles(dir);
    const whole = encodeRecord({ s: 4, m: eventMessage(4) });
    await appendFile(join(dir, seg as string), whole.subarray(0, whole.length - 7));

    const reopened = await openSpool();
    expect((await reopened.pending()).map((e) => e.message.id)).toEqual(['ev-1', 'ev-2', 'ev-3']);
    expect(reopened.highWater()).toBe(3);
    await reopened.append(eventMessage(9));
    await reopened.close();
    const third = await openSpool();
    expect((await third.pending()).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect((await third.pending()).at(-1)?.message.id).toBe('ev-9');
  });

  it('ignores a torn ack record when the process died mid-ack', async () => {
    const spool = await openSpool();
    for (let i = 1; i <= 2; i++) await spool.append(eventMessage(i));
    await spool.ack(['ev-1']);
    await spool.close();
    const torn = encodeRecord([2]);
    await appendFile(join(dir, 'acks.log'), torn.subarray(0, 5));
    const reopened = await openSpool();
    expect((await reopened.pending()).map((e) => e.message.id)).toEqual(['ev-2']);
  });

  it('group-commits 5,000 concurrent appends into few fsyncs when they arrive together', async () => {
    const spool = await openSpool();
    const seqs = await Promise.all(Array.from({ length: 5000 }, (_, i) => spool.append(eventMessage(i))));
    expect(new Set(seqs).size).toBe(5000);
    expect(spool.stats().appendFlushes).toBeLessThan(20);
    await spool.close();
    const reopened = await openSpool();
    const pending = await reopened.pending();
    expect(pending).toHaveLength(5000);
    expect(pending.map((e) => e.seq)).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
    expect(pending[4999]?.message.id).toBe('ev-4999');
  });

  it('deletes segments once all their records are acked when segments roll', async () => {
    const spool = await openSpool({ segmentMaxBytes: 2048 });
    for (let i = 1; i <= 100; i++) await spool.append(eventMessage(i));
    expect((await segmentFiles(dir)).length).toBeGreaterThan(3);
    await spool.ack(Array.from({ length: 90 }, (_, i) => `ev-${i + 1}`));
    const left = await segmentFiles(dir);
    expect(left.length).toBeLessThanOrEqual(2);
    expect(spool.stats().segments).toBe(left.length);
    expect((await spool.pending()).map((e) => e.message.id)).toEqual(
      Array.from({ length: 10 }, (_, i) => `ev-${i + 91}`),
    );
    await spool.close();
    const reopened = await openSpool({ segmentMaxBytes: 2048 });
    expect(reopened.size()).toBe(10);
    expect(reopened.highWater()).toBe(100);
  });

  it('holds 100k small records and reopens them when half are acked', async () => {
    const spool = await openSpool();
    const total = 100_000;
    const chunk = 10_000;
    for (let start = 0; start < total; start += chunk) {
      await Promise.all(Array.from({ length: chunk }, (_, i) => spool.append(eventMessage(start + i))));
    }
    expect(spool.size()).toBe(total);
    await spool.ack(Array.from({ length: total / 2 }, (_, i) => `ev-${i}`));
    expect((await spool.pending(3)).map((e) => e.message.id)).toEqual(['ev-50000', 'ev-50001', 'ev-50002']);
    await spool.close();
    const reopened = await openSpool();
    expect(reopened.size()).toBe(total / 2);
    expect(reopened.highWater()).toBe(total);
    expect((await reopened.pending(1, 99_999)).map((e) => e.message.id)).toEqual(['ev-99999']);
  });

  it('rejects appends with SpoolClosedError when closed', async () => {
    const spool = await openSpool();
    await spool.close();
    await expect(spool.append(eventMessage(1))).rejects.toBeInstanceOf(SpoolClosedError);
  });
});
