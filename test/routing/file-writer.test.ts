import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileWriter } from '../../src/routing/file-writer.js';
import { outs, tempDir } from './fixtures.js';

async function lines(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text === '' ? [] : text.trimEnd().split('\n');
}

describe('FileWriter', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
  });

  it.each(['always', 'batch', 'never'] as const)(
    'appends one JSON line per record when fsync is %s',
    async (fsync) => {
      const t = await tempDir();
      cleanup = t.cleanup;
      const path = join(t.dir, 'sub', 'out.jsonl');
      const w = await FileWriter.create('f', { path, fsync });
      await w.write(outs(0, 3));
      await w.write(outs(3, 5));
      await w.close();
      expect(await lines(path)).toEqual(outs(0, 5).map((r) => r.data));
    },
  );

  it('keeps every record across rotated files when the size limit is passed many times', async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    const path = join(t.dir, 'out.jsonl');
    const w = await FileWriter.create('f', { path, rotate: { maxBytes: 2_000, keep: 50 } });
    for (let i = 0; i < 20; i++) await w.write(outs(i * 50, i * 50 + 50, 20));
    await w.close();
    const files = (await readdir(t.dir)).filter((f) => f.startsWith('out.jsonl'));
    expect(files.length).toBeGreaterThan(10);
    const all: string[] = [];
    // path.N is the oldest, path the newest.
    for (let i = files.length - 1; i >= 1; i--) all.push(...(await lines(`${path}.${i}`)));
    all.push(...(await lines(path)));
    expect(all).toHaveLength(1000);
    expect(all).toEqual(outs(0, 1000, 20).map((r) => r.data));
    for (const f of files) expect((await readFile(join(t.dir, f))).length).toBeLessThanOrEqual(2_000);
  });

  it('drops only files beyond keep when rotating past keep', async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    const path = join(t.dir, 'out.jsonl');
    const w = await FileWriter.create('f', { path, rotate: { maxBytes: 100, keep: 2 } });
    for (let i = 0; i < 10; i++) await w.write(outs(i, i + 1, 70));
    await w.close();
    expect((await readdir(t.dir)).sort()).toEqual(['out.jsonl', 'out.jsonl.1', 'out.jsonl.2']);
    expect(await lines(path)).toEqual([outs(9, 10, 70)[0]?.data]);
    expect(await lines(`${path}.2`)).toEqual([outs(7, 8, 70)[0]?.data]);
  });

  it('continues an existing file when reopened', async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    const path = join(t.dir, 'out.jsonl');
    const a = await FileWriter.create('f', { path });
    await a.write(outs(0, 2));
    await a.close();
    const b = await FileWriter.create('f', { path });
    await b.write(outs(2, 3));
    await b.close();
    expect(await lines(path)).toHaveLength(3);
  });
});
