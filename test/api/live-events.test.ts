/**
 * GET /api/v1/events over the memory port with a real LiveFeed: authentication, the hello event with the
 * plots' history, change events as the feed hears them, heartbeats, and unsubscribing when the client goes.
 * The feed's own decisions (convergence, rates, target changes) are tested on the feed directly.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiHandler } from '../../src/api/app.js';
import { hashToken, TokenAuthenticator } from '../../src/api/auth.js';
import { liveRoutes, sseFrame } from '../../src/api/routes/live.js';
import { type LiveEvent, LiveFeed, type LiveTarget } from '../../src/controller/live-feed.js';
import type { HostStateWrite, RevisionRecord, SyncState } from '../../src/store/types.js';
import { waitFor } from '../helpers/controller.js';
import { host, MemoryPort, type ServedApi, serveApi, T0, VIEWER } from './memory-port.js';

interface SseEvent {
  event: string;
  data: unknown;
}

/** Reads an SSE stream with fetch (as the dashboard does); keeps every event and comment it sees. */
async function openStream(url: string, token: string | undefined) {
  const controller = new AbortController();
  const res = await fetch(`${url}/api/v1/events`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const state = { ended: false };
  let buffer = '';
  const pump = (async () => {
    if (!res.body || res.status !== 200) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          let data: string | undefined;
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data = line.slice(6);
          }
          if (data !== undefined) events.push({ event, data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted by the test
    }
    state.ended = true;
  })();
  return {
    res,
    events,
    comments,
    /** True once the server ended the stream (or the test aborted it). */
    get ended() {
      return state.ended;
    },
    close: async () => {
      controller.abort();
      await pump;
    },
  };
}

function write(hostId: string, syncState: SyncState): HostStateWrite {
  return { host: host(hostId, { syncState, revision: 'rev-2' }), statuses: [] };
}

function revision(sha: string, status: RevisionRecord['status']): RevisionRecord {
  return {
    sha,
    author: 'a',
    authoredAt: new Date(T0).toISOString(),
    message: `commit ${sha}`,
    seenAt: new Date(T0).toISOString(),
    status,
    errors: status === 'rejected' ? [{ file: 'x.yaml', line: 1, col: 1, path: '', message: 'bad' }] : [],
  };
}

let port: MemoryPort;
let api: ServedApi;
beforeEach(async () => {
  port = new MemoryPort();
  api = await serveApi(port);
});
afterEach(() => api.close());

describe('GET /api/v1/events', () => {
  it('answers 401 without a token and opens no subscription', async () => {
    const res = await api.call('/api/v1/events');
    expect(res.status).toBe(401);
    expect(port.live.subscribers).toBe(0);
  });

  it('streams hello with the history, then each change as the feed hears it', async () => {
    port.hosts.set('h1', host('h1', { syncState: 'Progressing' }));
    port.live.revision(revision('rev-1', 'accepted'), T0 - 1000);
    port.hosts.set('h1', host('h1', { syncState: 'Synced' }));
    port.live.hostsWritten([write('h1', 'Synced')]);

    const stream = await openStream(api.url, VIEWER);
    expect(stream.res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(stream.res.headers.get('cache-control')).toBe('no-store');
    const hello = await waitFor('hello', () => stream.events.find((e) => e.event === 'hello'));
    expect(hello.data).toMatchObject({
      convergence: [{ sha: 'rev-1', ms: 1000, hosts: 1 }],
      rates: [],
    });
    expect(port.live.subscribers).toBe(1);

    port.live.hostsWritten([write('h2', 'OutOfSync')]);
    port.live.drift([
      {
        id: 'd1',
        hostId: 'h2',
        key: 'ConfigFile/motd',
        kind: 'corrective',
        revision: 'rev-2',
        detectedAt: new Date(T0).toISOString(),
        healed: false,
        detail: 'content changed <script>',
      },
    ]);
    port.live.revision(revision('rev-3', 'rejected'));
    await waitFor('three change events', () => stream.events.length >= 4);
    expect(stream.events.slice(1)).toEqual([
      {
        event: 'hosts',
        data: {
          type: 'hosts',
          at: new Date(T0).toISOString(),
          hosts: [{ hostId: 'h2', name: 'h2', syncState: 'OutOfSync', connected: true, revision: 'rev-2' }],
          more: 0,
        },
      },
      {
        event: 'drift',
        data: {
          type: 'drift',
          at: new Date(T0).toISOString(),
          items: [{ hostId: 'h2', key: 'ConfigFile/motd', kind: 'corrective', healed: false }],
          more: 0,
        },
      },
      {
        event: 'revision',
        data: {
          type: 'revision',
          at: new Date(T0).toISOString(),
          status: 'rejected',
          sha: 'rev-3',
          message: 'commit rev-3',
          errors: 1,
        },
      },
    ]);
    await stream.close();
    await waitFor('the subscription dropped', () => port.live.subscribers === 0);
  });

  it('sends heartbeat comments while nothing changes', async () => {
    const server: Server = createServer(
      createApiHandler(liveRoutes(port, { heartbeatMs: 20 }), {
        auth: new TokenAuthenticator([{ name: 'viewer', role: 'viewer', hash: hashToken(VIEWER) }]),
        logger: port.logger,
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const stream = await openStream(url, VIEWER);
      await waitFor('two heartbeats', () => stream.comments.filter((c) => c === 'heartbeat').length >= 2);
      await stream.close();
      await waitFor('the subscription dropped', () => port.live.subscribers === 0);
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  });

  it('ends an open stream at the next heartbeat once its named token is revoked', async () => {
    const secret = 'gse_dashboard-token-for-the-stream';
    port.tokenRecords.push({
      name: 'wallboard',
      role: 'viewer',
      hash: hashToken(secret),
      createdAt: new Date(T0).toISOString(),
      createdBy: 'admin',
    });
    const auth = new TokenAuthenticator([], port.tokens);
    const server: Server = createServer(
      createApiHandler(liveRoutes(port, { heartbeatMs: 20, auth }), { auth, logger: port.logger }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const stream = await openStream(url, secret);
      await waitFor('a heartbeat while the token is good', () => stream.comments.includes('heartbeat'));
      expect(port.live.subscribers).toBe(1);
      const record = port.tokenRecords[0];
      if (record) record.revokedAt = new Date(T0).toISOString();
      await waitFor('the stream ended', () => stream.ended);
      expect(port.live.subscribers).toBe(0);
      await stream.close();
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  });

  it('frames an event as one JSON data line, whatever the text holds', () => {
    expect(sseFrame('drift', 7, { detail: 'a\nb\r\n\ndata: x' })).toBe(
      'event: drift\nid: 7\ndata: {"detail":"a\\nb\\r\\n\\ndata: x"}\n\n',
    );
  });
});

describe('LiveFeed', () => {
  function feed(states: Array<{ connected: boolean; syncState: SyncState }>) {
    let now = T0;
    let totals: { in: number; out: number } | undefined;
    let targets: LiveTarget[] = [];
    const seen: LiveEvent[] = [];
    const f = new LiveFeed({
      hostStates: () => states,
      recordTotals: () => totals,
      targets: () => targets,
      now: () => now,
      onListenerError: () => {},
    });
    f.subscribe((e) => seen.push(e));
    return {
      f,
      seen,
      setNow: (t: number) => {
        now = t;
      },
      setTotals: (t: { in: number; out: number }) => {
        totals = t;
      },
      setTargets: (t: LiveTarget[]) => {
        targets = t;
      },
    };
  }

  it('records a convergence only once every connected host is Synced', () => {
    const states: Array<{ connected: boolean; syncState: SyncState }> = [
      { connected: true, syncState: 'Progressing' },
      { connected: false, syncState: 'Unknown' },
    ];
    const t = feed(states);
    t.f.revision(revision('r1', 'accepted'), T0);
    expect(t.f.history().convergence).toEqual([]);
    t.setNow(T0 + 2500);
    states[0] = { connected: true, syncState: 'Synced' };
    t.f.hostsWritten([write('h1', 'Synced')]);
    expect(t.f.history().convergence).toEqual([
      { sha: 'r1', at: new Date(T0 + 2500).toISOString(), ms: 2500, hosts: 1 },
    ]);
    t.f.hostsWritten([write('h1', 'Synced')]);
    expect(t.f.history().convergence).toHaveLength(1);
    expect(t.seen.map((e) => e.type)).toEqual(['revision', 'hosts', 'converged', 'hosts']);
  });

  it('does not count a rejected revision as converging', () => {
    const t = feed([{ connected: true, syncState: 'Synced' }]);
    t.f.revision(revision('bad', 'rejected'));
    t.f.hostsWritten([write('h1', 'Synced')]);
    expect(t.f.history().convergence).toEqual([]);
  });

  it('samples record rates per second and tells target health only when it changed', () => {
    const t = feed([]);
    const target: LiveTarget = { name: 'redis-a', state: 'running', connected: true, spoolDepth: 0 };
    t.setTargets([target]);
    t.setTotals({ in: 100, out: 90 });
    t.f.sample();
    t.setNow(T0 + 5000);
    t.setTotals({ in: 600, out: 340 });
    t.f.sample();
    // A rebuilt router counts from zero again: no sample from the drop.
    t.setNow(T0 + 10_000);
    t.setTotals({ in: 10, out: 10 });
    t.f.sample();
    t.setTargets([{ ...target, connected: false, spoolDepth: 12 }]);
    t.setNow(T0 + 15_000);
    t.setTotals({ in: 20, out: 10 });
    t.f.sample();
    expect(t.f.history().rates).toEqual([
      { at: new Date(T0 + 5000).toISOString(), inPerSec: 100, outPerSec: 50 },
      { at: new Date(T0 + 15_000).toISOString(), inPerSec: 2, outPerSec: 0 },
    ]);
    const targetEvents = t.seen.filter((e) => e.type === 'targets');
    expect(targetEvents.map((e) => (e.type === 'targets' ? e.targets[0]?.spoolDepth : -1))).toEqual([0, 12]);
  });

  it('counts records routed before the first sample as a rate from the feed start', () => {
    const t = feed([]);
    t.setNow(T0 + 2000);
    t.setTotals({ in: 200, out: 200 });
    t.f.sample();
    expect(t.f.history().rates).toEqual([
      { at: new Date(T0 + 2000).toISOString(), inPerSec: 100, outPerSec: 100 },
    ]);
  });

  it('keeps telling the other listeners when one throws', () => {
    const errors: unknown[] = [];
    const f = new LiveFeed({
      hostStates: () => [],
      recordTotals: () => undefined,
      targets: () => [],
      now: () => T0,
      onListenerError: (err) => errors.push(err),
    });
    const seen: string[] = [];
    f.subscribe(() => {
      throw new Error('broken listener');
    });
    f.subscribe((e) => seen.push(e.type));
    f.rollout({ name: 'agents', phase: 'Paused', version: '1.1.0' } as Parameters<LiveFeed['rollout']>[0]);
    expect(seen).toEqual(['rollout']);
    expect(errors).toHaveLength(1);
  });
});
