import { afterEach, describe, expect, it } from 'vitest';
import { BatchQueue, batchJobs, type FileJob } from '../../src/spec/job-batches.js';
import { withPlainEnv } from '../../src/spec/plain-env.js';
import { readTreeChecked } from '../../src/spec/read-tree.js';
import { type TempTree, tempTree } from './helpers.js';

function job(path: string, bytes: number): FileJob {
  return { path, content: new Uint8Array(bytes), hash: path };
}

describe('batchJobs', () => {
  const cases: Array<{ name: string; sizes: number[]; batchBytes: number; expected: number[][] }> = [
    { name: 'no jobs', sizes: [], batchBytes: 10, expected: [] },
    { name: 'all in one when under the size', sizes: [3, 3, 3], batchBytes: 10, expected: [[0, 1, 2]] },
    {
      name: 'cut once a batch reaches the size',
      sizes: [6, 6, 6, 1],
      batchBytes: 10,
      expected: [
        [0, 1],
        [2, 3],
      ],
    },
    { name: 'a job over the size alone', sizes: [50, 1, 50], batchBytes: 10, expected: [[0], [1, 2]] },
  ];
  it.each(cases)('keeps every job once, in order, when $name', ({ sizes, batchBytes, expected }) => {
    const jobs = sizes.map((n, i) => job(`f${i}.yaml`, n));
    const batches = batchJobs(jobs, batchBytes);
    expect(batches.map((b) => b.jobs.map((j) => jobs.indexOf(j)))).toEqual(expected);
    expect(batches.map((b) => b.start)).toEqual(expected.map((b) => b[0]));
  });

  it('hands each batch out once when taken from a queue', () => {
    const queue = new BatchQueue(batchJobs([job('a', 5), job('b', 5), job('c', 5)], 5));
    expect([queue.take()?.start, queue.take()?.start, queue.take()?.start, queue.take()]).toEqual([
      0,
      1,
      2,
      undefined,
    ]);
  });
});

describe('withPlainEnv', () => {
  it('gives a plain copy of process.env and restores the original when fn returns', () => {
    const env = process.env;
    const seen = withPlainEnv(() => ({
      same: process.env === env,
      path: process.env.PATH,
      proto: Object.getPrototypeOf(process.env),
    }));
    expect(seen).toEqual({ same: false, path: env.PATH, proto: Object.prototype });
    expect(process.env).toBe(env);
  });

  it('restores process.env when fn throws', () => {
    const env = process.env;
    expect(() =>
      withPlainEnv(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(process.env).toBe(env);
  });
});

describe('readTreeChecked hooks', () => {
  let tree: TempTree | undefined;
  afterEach(async () => {
    await tree?.cleanup();
    tree = undefined;
  });

  it('calls onListed with the files about to be read when the tree is within its limit', async () => {
    tree = await tempTree({ 'a.yaml': 'x'.repeat(10), 'files/b.conf': 'y'.repeat(5) });
    const listed: unknown[] = [];
    const read = await readTreeChecked(tree.dir, 1000, { onListed: (files) => listed.push(files) });
    expect(listed).toEqual([
      [
        { path: 'a.yaml', size: 10 },
        { path: 'files/b.conf', size: 5 },
      ],
    ]);
    expect(read.files.size).toBe(2);
  });

  it('does not call onListed when the tree is over its limit', async () => {
    tree = await tempTree({ 'a.yaml': 'x'.repeat(10) });
    const listed: unknown[] = [];
    const read = await readTreeChecked(tree.dir, 5, { onListed: (files) => listed.push(files) });
    expect(listed).toEqual([]);
    expect(read.errors).toHaveLength(1);
  });
});
