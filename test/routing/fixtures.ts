/** Builders and bounded waits shared by the routing tests. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataRecord } from '../../src/protocol/messages.js';
import type { OutRecord, TargetWriter, WriterHealth } from '../../src/routing/types.js';
import type { Route, RouteSpec, StreamTarget, StreamTargetSpec } from '../../src/spec/types.js';

/** A data record with defaults; `fields` merge over `{n: i}`. */
export function record(i: number, over: Partial<DataRecord> = {}): DataRecord {
  return {
    rid: `r-${i}`,
    channel: 'metrics',
    time: '2026-01-02T03:04:05.000Z',
    host: { id: 'agent-1', name: 'web-1', ip: '10.0.0.1', cloudId: 0 },
    fields: { n: i },
    ...over,
  };
}

const pos = { file: 'test.yaml', line: 1, col: 1 };

/** A StreamTarget document. */
export function target(name: string, spec: StreamTargetSpec): StreamTarget {
  return { apiVersion: 'gse/v1', kind: 'StreamTarget', metadata: { name }, spec, pos };
}

/** A Route document with batch {maxRecords 100, maxDelayMs 5} and format json unless overridden. */
export function route(name: string, spec: Partial<RouteSpec> & Pick<RouteSpec, 'targets'>): Route {
  return {
    apiVersion: 'gse/v1',
    kind: 'Route',
    metadata: { name },
    spec: { channel: 'metrics', batch: { maxRecords: 100, maxDelayMs: 5 }, format: 'json', ...spec },
    pos,
  };
}

/** Polls `cond` every 10 ms until it holds; throws after `timeoutMs` (a bound, not an assertion on time). */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A fresh temp dir and its cleanup. */
export async function tempDir(
  prefix = 'gse-routing-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** An in-memory writer that can be switched down; keeps every record it accepted, in order. */
export class FakeWriter implements TargetWriter {
  down = false;
  readonly got: OutRecord[] = [];
  /** Records per write call, in call order. */
  readonly sizes: number[] = [];
  writes = 0;
  closed = false;
  /** While set, writes wait for it to resolve (a slow target). */
  gate: Promise<void> | undefined;

  async write(batch: readonly OutRecord[]): Promise<void> {
    this.writes++;
    this.sizes.push(batch.length);
    await (this.gate ?? Promise.resolve());
    if (this.down) throw new Error('fake target down');
    this.got.push(...batch);
  }

  health(): WriterHealth {
    return { connected: !this.down };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Records numbered from..to-1 as out-records. */
export function outs(from: number, to: number, size = 0): OutRecord[] {
  const pad = 'x'.repeat(size);
  return Array.from({ length: to - from }, (_, k) => ({
    rid: `r-${from + k}`,
    data: `{"n":${from + k},"p":"${pad}"}`,
  }));
}

/** A sleep for backoff in tests: real but at most 5 ms, so retries do not stretch a test. */
export const shortSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.min(ms, 5),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
