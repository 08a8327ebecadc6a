/** DataPath with a real router and a file target in a temp state dir: readiness, routing, host stamping. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DataPath,
  DataPathNotReadyError,
  EVENTS_CHANNEL,
  recordsOf,
  resolveTargetPaths,
} from '../../src/controller/data-path.js';
import { silentLogger } from '../../src/kernel/index.js';
import type { DataMessage, EventMessage } from '../../src/protocol/messages.js';
import { makeRevision } from '../helpers/revision.js';
import { record, route, target, waitFor } from '../routing/fixtures.js';

const host = { id: 'h1', name: 'web-1', ip: '10.0.0.1', cloudId: 0 };

describe('recordsOf', () => {
  it('stamps data records with the session host, whatever host they claim', () => {
    const msg: DataMessage = {
      v: 1,
      type: 'data',
      id: 'd1',
      records: [record(1, { host: { id: 'other', name: 'x', ip: '1.1.1.1', cloudId: 9 } })],
    };
    expect(recordsOf(msg, host).map((r) => r.host)).toEqual([host]);
  });

  it('stamps records that carry no host (agents that know this controller stamps it send none)', () => {
    const { host: _claimed, ...bare } = record(2);
    const msg: DataMessage = { v: 1, type: 'data', id: 'd2', records: [bare] };
    expect(recordsOf(msg, host)).toEqual([{ ...bare, host }]);
  });

  it('turns an event into one record on the events channel with the event as fields', () => {
    const msg = {
      v: 1,
      type: 'event',
      id: 'e1',
      event: { type: 'process.down', time: '2026-01-01T00:00:00.000Z', resource: 'ProcessWatch/nginx' },
    } as unknown as EventMessage;
    expect(recordsOf(msg, host)).toEqual([
      {
        rid: 'e1',
        channel: EVENTS_CHANNEL,
        time: '2026-01-01T00:00:00.000Z',
        host,
        fields: { type: 'process.down', time: '2026-01-01T00:00:00.000Z', resource: 'ProcessWatch/nginx' },
      },
    ]);
  });
});

describe('resolveTargetPaths', () => {
  it('puts a relative file target under <stateDir>/targets and leaves absolute ones alone', () => {
    const [rel, abs] = resolveTargetPaths(
      [target('a', { file: { path: 'out/a.jsonl' } }), target('b', { file: { path: '/var/b.jsonl' } })],
      '/state',
    );
    expect(rel?.spec.file?.path).toBe('/state/targets/out/a.jsonl');
    expect(abs?.spec.file?.path).toBe('/var/b.jsonl');
  });
});

describe('DataPath', () => {
  let dir: string | undefined;
  let data: DataPath | undefined;
  afterEach(async () => {
    await data?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    data = undefined;
    dir = undefined;
  });

  it('refuses records before the first revision, so they stay in the agent spool', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-data-path-'));
    data = new DataPath({ stateDir: dir, logger: silentLogger, labelsOf: () => ({}) });
    const msg: DataMessage = { v: 1, type: 'data', id: 'd1', records: [record(1)] };
    await expect(data.ingest(msg, host)).rejects.toBeInstanceOf(DataPathNotReadyError);
  });

  it('routes records of a matching channel to the target of a revision, stamped with the host', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-data-path-'));
    data = new DataPath({ stateDir: dir, logger: silentLogger, labelsOf: () => ({ role: 'web' }) });
    await data.apply(
      makeRevision([
        target('archive', { file: { path: 'archive.jsonl' } }),
        route('metrics', { targets: [{ name: 'archive' }] }),
      ]),
    );
    const msg: DataMessage = {
      v: 1,
      type: 'data',
      id: 'd1',
      records: [record(1), record(2, { channel: 'other' })],
    };
    await data.ingest(msg, host);
    const file = join(dir, 'targets', 'archive.jsonl');
    const lines = async () => (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    await waitFor(async () => (await lines()).length > 0, 'the record in the file target');
    const written = (await lines()).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(written).toHaveLength(1);
    expect(JSON.stringify(written[0])).toContain('web-1');
    expect(data.current).toBeDefined();
  });
});
