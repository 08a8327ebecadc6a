import { appendFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SpoolFullError } from '../../src/routing/errors.js';
import { Spool } from '../../src/routing/spool.js';
import { outs, tempDir } from './fixtures.js';

const MiB = 1024 * 1024;

describe('Spool', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
  });
  async function dir(): Promise<string> {
    const t = await tempDir('gse-spool-');
    cleanup = t.cleanup;
    return t.dir;
  }

  it('returns appended records in order and consumes them when committed', async () => {
    const d = await dir();
    let now = 1_000;
    const s = await Spool.create(d, { maxBytes: MiB, clock: () => now });
    await s.append(outs(0, 3));
    now = 2_000;
    await s.append([{ rid: 'k', data: 'K', key: 'key', dest: 'dest' }]);
    expect(s.depth()).toBe(4);
    expect(s.oldestAt()).toBe(1_000);
    const first = await s.peek(2);
    expect(first.map((e) => e.rec)).toEqual(outs(0, 2));
    expect(await s.peek(2)).toEqual(first);
    await s.commit(2);
    expect(s.depth()).toBe(2);
    expect(s.oldestAt()).toBe(1_000);
    const rest = await s.peek(10);
    expect(rest.map((e) => e.rec)).toEqual([
      ...outs(2, 3),
      { rid: 'k', data: 'K', key: 'key', dest: 'dest' },
    ]);
    await s.commit(1);
    expect(s.oldestAt()).toBe(2_000);
    await s.commit(1);
    expect(s.depth()).toBe(0);
    expect(s.bytes()).toBe(0);
    expect(s.oldestAt()).toBeUndefined();
    expect(await s.peek(5)).toEqual([]);
    await s.close();
  });

  it('refuses a commit beyond what was peeked', async () => {
    const s = await Spool.create(await dir(), { maxBytes: MiB });
    await s.append(outs(0, 3));
    await s.peek(1);
    await expect(s.commit(2)).rejects.toThrow('commit of 2 entries, but only 1 were peeked');
    await s.close();
  });

  it('keeps pending records and the cursor when reopened after a restart', async () => {
    const d = await dir();
    const a = await Spool.create(d, { maxBytes: MiB });
    await a.append(outs(0, 10));
    await a.peek(4);
    await a.commit(4);
    await a.close();
    const b = await Spool.create(d, { maxBytes: MiB });
    expect(b.depth()).toBe(6);
    expect((await b.peek(100)).map((e) => e.rec)).toEqual(outs(4, 10));
    await b.append(outs(10, 12));
    expect((await b.peek(100)).map((e) => e.rec)).toEqual(outs(4, 12));
    await b.close();
  });

  it('rolls segments and deletes consumed ones when records pass the segment size', async () => {
    const d = await dir();
    const s = await Spool.create(d, { maxBytes: MiB, segmentBytes: 1_000 });
    for (let i = 0; i < 20; i++) await s.append(outs(i * 10, i * 10 + 10, 20));
    const segs = (await readdir(d)).filter((f) => f.endsWith('.seg'));
    expect(segs.length).toBeGreaterThan(5);
    const seen: string[] = [];
    while (s.depth() > 0) {
      const batch = await s.peek(7);
      seen.push(...batch.map((e) => e.rec.rid));
      await s.commit(batch.length);
    }
    expect(seen).toEqual(outs(0, 200).map((r) => r.rid));
    expect((await readdir(d)).filter((f) => f.endsWith('.seg'))).toHaveLength(1);
    await s.append(outs(200, 201));
    await s.close();
    const again = await Spool.create(d, { maxBytes: MiB, segmentBytes: 1_000 });
    expect((await again.peek(5)).map((e) => e.rec.rid)).toEqual(['r-200']);
    await again.close();
  });

  it('ignores a torn tail when reopened after a crash mid-append', async () => {
    const d = await dir();
    const a = await Spool.create(d, { maxBytes: MiB });
    await a.append(outs(0, 5));
    await a.close();
    const seg = join(d, (await readdir(d)).find((f) => f.endsWith('.seg')) as string);
    const good = (await stat(seg)).size;
    // A half-written frame: a header promising 500 bytes, then 10 bytes.
    const torn = Buffer.alloc(18);
    torn.writeUInt32BE(500, 0);
    await appendFile(seg, torn);
    const b = await Spool.create(d, { maxBytes: MiB });
    expect(b.depth()).toBe(5);
    expect((await stat(seg)).size).toBe(good);
    await b.append(outs(5, 6));
    expect((await b.peek(10)).map((e) => e.rec)).toEqual(outs(0, 6));
    await b.close();
  });

  it('drops a frame with a bad checksum at the tail when reopened', async () => {
    const d = await dir();
    const a = await Spool.create(d, { maxBytes: MiB });
    await a.append(outs(0, 3));
    await a.close();
    const seg = join(d, (await readdir(d)).find((f) => f.endsWith('.seg')) as string);
    const bytes = await readFile(seg);
    bytes[bytes.length - 2] = (bytes[bytes.length - 2] as number) ^ 0xff;
    await writeFile(seg, bytes);
    const b = await Spool.create(d, { maxBytes: MiB });
    expect((await b.peek(10)).map((e) => e.rec)).toEqual(outs(0, 2));
    expect((await stat(seg)).size).toBeLessThan(bytes.length);
    await b.close();
  });

  it('reports full and refuses appends when pending bytes reach maxBytes', async () => {
    const d = await dir();
    const s = await Spool.create(d, { maxBytes: 300 });
    expect(s.isFull()).toBe(false);
    await s.append(outs(0, 5, 40));
    expect(s.bytes()).toBeGreaterThanOrEqual(300);
    expect(s.isFull()).toBe(true);
    const err = await s.append(outs(5, 6)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpoolFullError);
    expect((err as SpoolFullError).code).toBe('SPOOL_FULL');
    await s.peek(5);
    await s.commit(5);
    expect(s.isFull()).toBe(false);
    await s.append(outs(5, 6));
    expect(s.depth()).toBe(1);
    await s.close();
  });
});
