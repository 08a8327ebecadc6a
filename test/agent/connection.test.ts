/** AgentConnection against real ws servers: failing over between URLs and addresses, and honouring retry-after. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { RESTART_RETRY_WINDOW_MS } from '../../agent/backoff.js';
import { AgentConnection, type ReconnectAttempt } from '../../agent/connection.js';
import { waitFor } from '../helpers/controller.js';
import { freePort } from '../helpers/redis-server.js';

interface TestServer {
  port: number;
  /** Host headers of every upgrade request seen. */
  hosts: string[];
  opened: number;
  close(): Promise<void>;
}

/** A ws server on 127.0.0.1 that answers the first `refuse` upgrades with 503 + the given headers. */
async function startServer(
  refuse = 0,
  headers: Record<string, string> = {},
  onOpen: (close: () => void) => void = () => {},
): Promise<TestServer> {
  const server: Server = createServer();
  const wss = new WebSocketServer({ noServer: true });
  const hosts: string[] = [];
  let refused = 0;
  const state = { opened: 0 };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    hosts.push(req.headers.host ?? '');
    if (refused < refuse) {
      refused++;
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.end(
        `HTTP/1.1 503 Service Unavailable\r\n${extra}Connection: close\r\nContent-Length: 0\r\n\r\n`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      state.opened++;
      onOpen(() => ws.close(1001, 'going away'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hosts,
    get opened() {
      return state.opened;
    },
    close: async () => {
      for (const c of wss.clients) c.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const servers: TestServer[] = [];
const connections: AgentConnection[] = [];
afterEach(async () => {
  await Promise.all(connections.splice(0).map((c) => c.stop()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function connect(
  urls: string[],
  extra: {
    random?: () => number;
    resolveAll?: (h: string) => Promise<{ address: string; family: number }[]>;
    now?: () => number;
  } = {},
) {
  const attempts: ReconnectAttempt[] = [];
  const errors: string[] = [];
  const state = { opens: 0 };
  const conn = new AgentConnection(
    { urls },
    {
      onOpen: () => {
        state.opens++;
      },
      onMessage: () => {},
      onBadFrame: () => {},
      onClose: () => true,
      onError: (m) => errors.push(m),
      onReconnect: (a) => attempts.push(a),
    },
    {
      // Records the delay and waits a moment only, so the test does not sit out real backoffs.
      sleep: () => new Promise((resolve) => setTimeout(resolve, 5)),
      random: extra.random ?? (() => 0),
      ...(extra.resolveAll ? { resolveAll: extra.resolveAll } : {}),
      ...(extra.now ? { now: extra.now } : {}),
    },
  );
  connections.push(conn);
  conn.start();
  return { conn, attempts, errors, state };
}

describe('AgentConnection', () => {
  it('moves to the next URL when a connect fails, and logs the attempt with url, attempt and delay', async () => {
    const dead = await freePort();
    const live = await startServer();
    servers.push(live);
    const deadUrl = `ws://127.0.0.1:${dead}/agent`;
    const liveUrl = `ws://127.0.0.1:${live.port}/agent`;
    const { conn, attempts, errors, state } = connect([deadUrl, liveUrl]);
    await waitFor('state.opens === 1', () => state.opens === 1, 20_000);
    expect(conn.open).toBe(true);
    expect(conn.url).toBe(liveUrl);
    // random 0: the first URL first, then a backoff of half the 500 ms base.
    expect(attempts).toEqual([{ url: liveUrl, attempt: 1, delayMs: 250 }]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/ECONNREFUSED|refused/i);
  });

  it('moves to another controller when the session is lost, and back when that one fails', async () => {
    let closeFirst: () => void = () => {};
    const a = await startServer(0, {}, (close) => {
      closeFirst = close;
    });
    const b = await startServer();
    servers.push(a, b);
    const urlA = `ws://127.0.0.1:${a.port}/agent`;
    const urlB = `ws://127.0.0.1:${b.port}/agent`;
    const { conn, attempts, state } = connect([urlA, urlB]);
    await waitFor('state.opens === 1', () => state.opens === 1, 20_000);
    expect(conn.url).toBe(urlA);
    conn.markHealthy();
    closeFirst();
    await waitFor('state.opens === 2', () => state.opens === 2, 20_000);
    expect(conn.url).toBe(urlB);
    expect(b.opened).toBe(1);
    // Closed as going away (1001): the restart step (half of 1 s at random 0), not the 500 ms backoff base.
    expect(attempts).toEqual([{ url: urlB, attempt: 1, delayMs: 500 }]);
  });

  /** A ws server whose one session the test ends; `stopListening` refuses every later connect. */
  async function oneSessionServer() {
    const server: Server = createServer();
    const wss = new WebSocketServer({ server });
    let session: WebSocket | undefined;
    wss.on('connection', (ws) => {
      session = ws;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/agent`,
      stopListening: () => server.close(),
      goAway: () => session?.close(1001, 'controller stopping'),
      // No close frame: as a crash or a cut link looks.
      drop: () => session?.terminate(),
    };
  }

  it('retries on the short restart step, not a growing backoff, while a controller that went away is down', async () => {
    const server = await oneSessionServer();
    const { conn, attempts, state } = connect([server.url]);
    await waitFor('state.opens === 1', () => state.opens === 1, 20_000);
    conn.markHealthy();
    server.stopListening();
    server.goAway();
    await waitFor('4 attempts', () => attempts.length >= 4, 20_000);
    expect(attempts.slice(0, 4).map((x) => x.delayMs)).toEqual([500, 500, 500, 500]);
  });

  it('resumes the backoff from its first step, not 30 doublings on, when the restart window ends', async () => {
    const server = await oneSessionServer();
    const clock = { ms: 1_000_000 };
    const { conn, attempts, state } = connect([server.url], { now: () => clock.ms });
    await waitFor('state.opens === 1', () => state.opens === 1, 20_000);
    conn.markHealthy();
    server.stopListening();
    server.goAway();
    await waitFor('3 attempts', () => attempts.length >= 3, 20_000);
    clock.ms += RESTART_RETRY_WINDOW_MS; // the controller did not come back within the window
    const before = attempts.length;
    await waitFor('2 more attempts', () => attempts.length >= before + 2, 20_000);
    const after = attempts.slice(before, before + 2);
    expect(after.map((x) => x.delayMs)).toEqual([250, 500]);
    expect(after.map((x) => x.attempt)).toEqual([before + 1, before + 2]);
  });

  it('backs off exponentially after a session lost without a going-away close', async () => {
    const server = await oneSessionServer();
    const { conn, attempts, state } = connect([server.url]);
    await waitFor('state.opens === 1', () => state.opens === 1, 20_000);
    conn.markHealthy();
    server.stopListening();
    server.drop();
    await waitFor('3 attempts', () => attempts.length >= 3, 20_000);
    expect(attempts.slice(0, 3).map((x) => x.delayMs)).toEqual([250, 500, 1000]);
  });

  it('waits the controller retry-after (plus jitter) instead of its own backoff after a 503', async () => {
    const busy = await startServer(2, { 'Retry-After': '2', 'X-Retry-After-Ms': '1234' });
    servers.push(busy);
    const url = `ws://127.0.0.1:${busy.port}/agent`;
    const { attempts, errors, state } = connect([url], { random: () => 0.5 });
    await waitFor('state.opens === 1', () => state.opens === 1, 20_000);
    // 1234 ms + half of a tenth of it as jitter; not the 500 ms × 2^n backoff.
    expect(attempts).toEqual([
      { url, attempt: 1, delayMs: 1296, retryAfterMs: 1234 },
      { url, attempt: 2, delayMs: 1296, retryAfterMs: 1234 },
    ]);
    // A paced refusal is not an error worth a warning line.
    expect(errors).toEqual([]);
  });

  it('falls back to its own backoff on a 503 without a retry-after, and says what the controller answered', async () => {
    const busy = await startServer(1);
    servers.push(busy);
    const url = `ws://127.0.0.1:${busy.port}/agent`;
    const { attempts, errors, state } = connect([url]);
    await waitFor('state.opens === 1', () => state.opens === 1, 20_000);
    expect(attempts).toEqual([{ url, attempt: 1, delayMs: 250 }]);
    expect(errors).toEqual(['controller answered HTTP 503']);
  });

  it('tries every address of a name in turn, pinned, keeping the name in the Host header', async () => {
    const live = await startServer();
    servers.push(live);
    // The server listens on 127.0.0.1 only: 127.0.0.2 refuses.
    const resolveAll = async (host: string) => {
      expect(host).toBe('controller.test');
      return [
        { address: '127.0.0.2', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ];
    };
    const url = `ws://controller.test:${live.port}/agent`;
    const { attempts, state } = connect([url], { resolveAll });
    await waitFor('state.opens === 1', () => state.opens === 1, 20_000);
    expect(attempts).toEqual([{ url, address: '127.0.0.1', attempt: 1, delayMs: 250 }]);
    expect(live.hosts).toEqual([`controller.test:${live.port}`]);
  });

  it('stops at once while waiting out a long retry-after', async () => {
    const busy = await startServer(100, { 'X-Retry-After-Ms': '300000' });
    servers.push(busy);
    const attempts: ReconnectAttempt[] = [];
    const conn = new AgentConnection(
      { urls: [`ws://127.0.0.1:${busy.port}/agent`] },
      {
        onOpen: () => {},
        onMessage: () => {},
        onBadFrame: () => {},
        onClose: () => true,
        onReconnect: (a) => attempts.push(a),
      },
      // A sleep that never ends: only stop() can end the wait.
      { sleep: () => new Promise(() => {}), random: () => 0 },
    );
    conn.start();
    await waitFor('attempts.length === 1', () => attempts.length === 1, 20_000);
    expect(attempts[0]?.retryAfterMs).toBe(300_000);
    await conn.stop();
    expect(conn.open).toBe(false);
  });
});
