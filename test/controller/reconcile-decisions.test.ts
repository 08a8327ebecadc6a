/** The reconciler's decisions as tables: pure functions, no store, no network, no clock. */
import { describe, expect, it } from 'vitest';
import { driftRecords } from '../../src/controller/drift-records.js';
import { hostRecord, resourceStatuses, SEND_ERROR_KEY } from '../../src/controller/host-records.js';
import type { HostRuntime } from '../../src/controller/host-runtime.js';
import { connectedRuntime, restoredRuntime } from '../../src/controller/host-runtime.js';
import {
  type DispatchDecision,
  dispatchDecision,
  heldHashOnConnect,
  MAX_RETRY_DELAY_MS,
  PROGRESS_DEADLINE_MS,
  type ReportDecision,
  type ResyncDecision,
  reportDecision,
  resyncDecision,
  retryDelayMs,
  type SendOutcome,
  sendErrorOf,
} from '../../src/controller/reconcile-decisions.js';
import { hostObservation, hostSyncState } from '../../src/controller/sync-state.js';
import { fileItem, itemReport, manifest, report, runtime } from './decisions-fixtures.js';

const M1 = manifest('M1');
const NOW_MS = 1_000_000;
const NOW_ISO = new Date(NOW_MS).toISOString();

describe('dispatchDecision', () => {
  const table: { name: string; host: Partial<HostRuntime>; expected: DispatchDecision }[] = [
    { name: 'the host is not connected', host: { connected: false }, expected: { send: false } },
    { name: 'nothing is planned for it yet', host: { desired: undefined }, expected: { send: false } },
    { name: 'it holds the desired manifest', host: { reportedHash: 'M2' }, expected: { send: false } },
    {
      name: 'it holds the desired manifest but a retry is scheduled',
      host: { reportedHash: 'M2', retry: { attempts: 1, nextAt: 0 } },
      expected: { send: true, held: undefined },
    },
    { name: 'it holds nothing we know of', host: {}, expected: { send: true, held: undefined } },
    {
      name: 'it holds a manifest we did not send (another session)',
      host: { reportedHash: 'M1' },
      expected: { send: true, held: undefined },
    },
    {
      name: 'it holds a manifest we sent (a delta base)',
      host: { reportedHash: 'M1', sent: new Map([['M1', M1]]) },
      expected: { send: true, held: M1 },
    },
    {
      name: 'it has not reported, and its hello says it holds the desired manifest (an empty delta)',
      host: { helloHash: 'M2' },
      expected: { send: true, held: manifest('M2') },
    },
    {
      name: 'it has not reported, and its hello names another manifest',
      host: { helloHash: 'M1' },
      expected: { send: true, held: undefined },
    },
    {
      name: 'it reported a manifest we did not send, whatever its hello said',
      host: { reportedHash: 'M1', helloHash: 'M2' },
      expected: { send: true, held: undefined },
    },
  ];
  it.each(table)('decides $expected.send when $name', ({ host, expected }) => {
    expect(dispatchDecision(runtime(host))).toStrictEqual(expected);
  });
});

describe('sendErrorOf', () => {
  const table: { name: string; outcome: SendOutcome; expected: string | RegExp | undefined }[] = [
    { name: 'the hub sent it', outcome: { kind: 'sent' }, expected: undefined },
    {
      name: 'the session is closing',
      outcome: { kind: 'refused' },
      expected: /session is closing.*next resync/,
    },
    {
      name: 'the frame is too large',
      outcome: { kind: 'threw', error: new Error('a frame of 5000000 bytes exceeds the limit') },
      expected: /^the manifest could not be sent: a frame of 5000000 bytes .*ConfigFiles smaller$/,
    },
  ];
  it.each(table)('says why when $name', ({ outcome, expected }) => {
    const reason = sendErrorOf(outcome);
    if (expected === undefined) expect(reason).toBeUndefined();
    else expect(reason).toMatch(expected);
  });
});

describe('heldHashOnConnect', () => {
  it.each([
    { itemsHash: 'M1', held: 'M1', expected: 'M1' },
    { itemsHash: 'M1', held: '', expected: undefined },
    // A restarted controller has no report of the resources: send again so the agent re-verifies.
    { itemsHash: undefined, held: 'M1', expected: undefined },
    // The last report was of another manifest: the agent recorded M2 as applied but its report of it was lost
    // (killed in between). Trusting the hello would leave the host Progressing on M1's item states for good.
    { itemsHash: 'M1', held: 'M2', expected: undefined },
  ])(
    'takes $expected when the last report was of $itemsHash and the agent holds "$held"',
    ({ itemsHash, held, expected }) => {
      expect(heldHashOnConnect(itemsHash, held)).toBe(expected);
    },
  );
});

describe('retryDelayMs', () => {
  it.each([
    { attempt: 1, ms: 1_000 },
    { attempt: 2, ms: 2_000 },
    { attempt: 4, ms: 8_000 },
    { attempt: 0, ms: 1_000 },
    { attempt: 30, ms: MAX_RETRY_DELAY_MS },
  ])('waits $ms ms before attempt $attempt', ({ attempt, ms }) => {
    expect(retryDelayMs(attempt)).toBe(ms);
  });
});

describe('reportDecision', () => {
  const scheduled = { attempts: 2, nextAt: NOW_MS - 1 };
  const table: {
    name: string;
    report: ReturnType<typeof report>;
    host: Parameters<typeof reportDecision>[1];
    expected: ReportDecision;
  }[] = [
    {
      name: 'the desired manifest applied cleanly',
      report: report('M2', [itemReport('a', 'ok')]),
      host: { desiredHash: 'M2', sentHash: undefined, retry: scheduled },
      expected: { retry: undefined, dispatch: false },
    },
    {
      name: 'the desired manifest failed for the first time',
      report: report('M2', [itemReport('a', 'failed')]),
      host: { desiredHash: 'M2', sentHash: undefined, retry: undefined },
      expected: { retry: { attempts: 1, nextAt: NOW_MS + 1_000 }, dispatch: false },
    },
    {
      name: 'the desired manifest failed again',
      report: report('M2', [itemReport('a', 'failed')]),
      host: { desiredHash: 'M2', sentHash: undefined, retry: scheduled },
      expected: { retry: { attempts: 3, nextAt: NOW_MS + 4_000 }, dispatch: false },
    },
    {
      name: 'an older manifest failed and nothing is in flight',
      report: report('M1', [itemReport('a', 'failed')]),
      host: { desiredHash: 'M2', sentHash: undefined, retry: scheduled },
      expected: { retry: scheduled, dispatch: true },
    },
    {
      name: 'an older manifest applied while the desired one is in flight',
      report: report('M1', [itemReport('a', 'ok')]),
      host: { desiredHash: 'M2', sentHash: 'M2', retry: undefined },
      expected: { retry: undefined, dispatch: false },
    },
    {
      name: 'nothing is planned for the host',
      report: report('M1', [itemReport('a', 'ok')]),
      host: { desiredHash: undefined, sentHash: undefined, retry: undefined },
      expected: { retry: undefined, dispatch: true },
    },
  ];
  it.each(table)('decides when $name', ({ report: r, host, expected }) => {
    expect(reportDecision(r, host, NOW_MS)).toStrictEqual(expected);
  });
});

describe('resyncDecision', () => {
  const table: { name: string; host: Partial<HostRuntime>; expected: ResyncDecision }[] = [
    { name: 'the host is not connected', host: { connected: false }, expected: { resend: false } },
    { name: 'nothing is planned', host: { desired: undefined }, expected: { resend: false } },
    { name: 'it is in sync', host: { reportedHash: 'M2' }, expected: { resend: false } },
    {
      name: 'its manifest is in flight within the deadline',
      host: { sentHash: 'M2', sentAt: NOW_MS - PROGRESS_DEADLINE_MS },
      expected: { resend: false },
    },
    {
      name: 'its manifest is in flight past the deadline',
      host: { sentHash: 'M2', sentAt: NOW_MS - PROGRESS_DEADLINE_MS - 1 },
      expected: { resend: true, full: false },
    },
    {
      name: 'it holds the wrong manifest with nothing in flight (a send failed)',
      host: { reportedHash: 'M1' },
      expected: { resend: true, full: false },
    },
    {
      name: 'its retry is not due yet',
      host: { reportedHash: 'M2', retry: { attempts: 1, nextAt: NOW_MS + 1 } },
      expected: { resend: false },
    },
    {
      name: 'its third retry is due',
      host: { reportedHash: 'M2', retry: { attempts: 3, nextAt: NOW_MS } },
      expected: { resend: true, full: true, nextRetryAt: NOW_MS + 8_000 },
    },
  ];
  it.each(table)('decides $expected.resend when $name', ({ host, expected }) => {
    expect(resyncDecision(runtime(host), NOW_MS)).toStrictEqual(expected);
  });
});

describe('driftRecords', () => {
  const drifted = itemReport('a', 'ok', {
    observedHash: 'o',
    drift: { detectedAt: '2026-01-01T00:00:01.000Z', healed: true, detail: 'content changed on disk' },
  });
  const table: {
    name: string;
    items: ReturnType<typeof itemReport>[];
    previous: string | undefined;
    expected: Array<{ key: string; kind: string; healed: boolean; healedAt?: string; detail: string }>;
  }[] = [
    { name: 'all items are ok', items: [itemReport('a', 'ok')], previous: 'rev-2', expected: [] },
    {
      name: 'an item drifted and was healed',
      items: [drifted],
      previous: 'rev-2',
      expected: [
        {
          key: 'ConfigFile/a',
          kind: 'corrective',
          healed: true,
          healedAt: NOW_ISO,
          detail: 'content changed on disk',
        },
      ],
    },
    {
      name: 'an item drifted and was left alone',
      items: [
        { ...drifted, drift: { detectedAt: '2026-01-01T00:00:01.000Z', healed: false, detail: 'mode' } },
      ],
      previous: 'rev-2',
      expected: [{ key: 'ConfigFile/a', kind: 'corrective', healed: false, detail: 'mode' }],
    },
    {
      name: 'an item changed because a new revision arrived',
      items: [itemReport('a', 'changed'), itemReport('b', 'ok')],
      previous: 'rev-1-0123456789abcdef',
      expected: [
        {
          key: 'ConfigFile/a',
          kind: 'intentional',
          healed: true,
          healedAt: NOW_ISO,
          detail: 'applied revision rev-2 (was rev-1-012345)',
        },
      ],
    },
    {
      name: 'an item changed under the same revision',
      items: [itemReport('a', 'changed')],
      previous: 'rev-2',
      expected: [],
    },
    {
      name: 'the first report since the host was known',
      items: [itemReport('a', 'changed')],
      previous: undefined,
      expected: [],
    },
  ];
  it.each(table)('yields $expected.length record(s) when $name', ({ items, previous, expected }) => {
    const records = driftRecords('h1', report('M2', items), previous, NOW_ISO);
    expect(
      records.map(({ key, kind, healed, healedAt, detail }) => ({ key, kind, healed, healedAt, detail })),
    ).toStrictEqual(expected.map((e) => ({ healedAt: undefined, ...e })));
    for (const r of records) expect(r.id).toBe(`h1:r1:${r.key}`);
  });
});

describe('resourceStatuses', () => {
  it('reports each desired item from the host report, Progressing when unreported', () => {
    const host = runtime({
      desired: manifest('M2', [fileItem('a'), fileItem('b')]),
      items: [itemReport('a', 'failed', { message: 'EACCES', observedHash: 'o' })],
    });
    expect(resourceStatuses(host, NOW_ISO).map((s) => [s.key, s.state, s.message])).toEqual([
      ['ConfigFile/a', 'Failed', 'EACCES'],
      ['ConfigFile/b', 'Progressing', undefined],
    ]);
  });

  it('adds a Failed Manifest/send while a connected host cannot be sent its manifest', () => {
    const statuses = resourceStatuses(runtime({ sendError: 'too large' }), NOW_ISO);
    expect(statuses.at(-1)).toMatchObject({
      key: SEND_ERROR_KEY,
      state: 'Failed',
      message: 'too large',
      hash: 'M2',
    });
    const offline = resourceStatuses(runtime({ sendError: 'too large', connected: false }), NOW_ISO);
    expect(offline.map((s) => s.key)).toEqual(['ConfigFile/a']);
  });

  it('adds a Failed status per resource the planner could not render', () => {
    const host = runtime({
      planErrors: [{ hostId: 'h1', resource: 'ConfigFile/t', message: 'no fact "zone"' }],
    });
    expect(resourceStatuses(host, NOW_ISO).at(-1)).toMatchObject({
      key: 'ConfigFile/t',
      kind: 'ConfigFile',
      name: 't',
      state: 'Failed',
      message: 'no fact "zone"',
    });
  });
});

describe('hostRecord and the runtimes it round-trips through', () => {
  it('stores the effective labels once planned, and the agent labels before', () => {
    expect(hostRecord(runtime()).labels).toEqual({ role: 'web' });
    expect(hostRecord(runtime({ desired: undefined })).labels).toEqual({ own: 'x' });
  });

  it('stores the retry time as ISO text', () => {
    expect(hostRecord(runtime({ retry: { attempts: 2, nextAt: NOW_MS } })).retry).toEqual({
      attempts: 2,
      nextAt: NOW_ISO,
    });
  });

  it('restores a stored host as not connected and Unknown, keeping what it reported', () => {
    const record = hostRecord(
      runtime({ reportedHash: 'M1', reportedRevision: 'rev-1', syncState: 'Synced' }),
    );
    const restored = restoredRuntime(record);
    expect(restored).toMatchObject({
      connected: false,
      syncState: 'Unknown',
      reportedHash: 'M1',
      reportedRevision: 'rev-1',
    });
    expect(hostSyncState(hostObservation(restored))).toBe('Unknown');
  });

  it('keeps firstSeen from the store when a known host connects to a fresh controller', () => {
    const stored = hostRecord(runtime({ reportedHash: 'M1' }));
    const host = connectedRuntime({ ...runtime().facts }, stored, NOW_ISO);
    expect(host).toMatchObject({
      firstSeen: stored.firstSeen,
      lastSeen: NOW_ISO,
      reportedHash: 'M1',
    });
    // The store's reportedHash is not a report this controller read: nothing is known of the items yet.
    expect(host.itemsHash).toBeUndefined();
    expect(connectedRuntime(runtime().facts, undefined, NOW_ISO).firstSeen).toBe(NOW_ISO);
  });
});

describe('hostObservation', () => {
  it.each([
    { name: 'a silent host', host: { silent: true }, expected: 'Unknown' },
    { name: 'a host whose send failed', host: { sendError: 'x' }, expected: 'Failed' },
    { name: 'a host with its manifest in flight', host: { sentHash: 'M2' }, expected: 'Progressing' },
    { name: 'a host holding another manifest', host: { reportedHash: 'M1' }, expected: 'OutOfSync' },
    {
      name: 'a host that applied its manifest',
      host: { reportedHash: 'M2', items: [itemReport('a', 'ok')] },
      expected: 'Synced',
    },
  ])('makes $name $expected', ({ host, expected }) => {
    expect(hostSyncState(hostObservation(runtime(host)))).toBe(expected);
  });
});
