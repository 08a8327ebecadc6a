/**
 * A small TCP proxy between a client (an agent) and a server (the controller) for fault tests: it can delay
 * every chunk, pause (hold traffic, then release it in order), drop (reset every connection and refuse new
 * ones until allowed again) and cut (reset live connections once, new ones still welcome).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  /** The port clients connect to (127.0.0.1). */
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Live client connections. */
  readonly live: number;
  /** Adds `ms` before each chunk is passed on, in both directions (0: none); order is kept. */
  setDelay(ms: number): void;
  /** Holds all traffic (both directions) until resume(); connections stay open. */
  pause(): void;
  resume(): void;
  /** Resets every live connection and refuses (resets) new ones until `allow()`. */
  drop(): void;
  allow(): void;
  /** Resets every live connection once; new ones are let through. */
  cut(): void;
  close(): Promise<void>;
}

interface Pipe {
  client: Socket;
  server: Socket;
}

/** Starts a proxy on 127.0.0.1 (a free port) to `targetPort` on 127.0.0.1. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pipes = new Set<Pipe>();
  let delayMs = 0;
  let paused = false;
  let dropping = false;
  let accepted = 0;
  /** Chunks held while paused, released in order on resume. */
  const held: Array<() => void> = [];

  // Each direction is a chain of promises, so delays never reorder chunks.
  const forward = (from: Socket, to: Socket): void => {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      chain = chain.then(async () => {
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        if (paused) await new Promise<void>((r) => held.push(r));
        if (!to.destroyed) to.write(chunk);
      });
    });
    from.on('end', () => {
      chain = chain.then(() => {
        if (!to.destroyed) to.end();
      });
    });
  };

  const server: Server = createServer((client) => {
    accepted++;
    if (dropping) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    const pipe: Pipe = { client, server: upstream };
    pipes.add(pipe);
    const teardown = (): void => {
      pipes.delete(pipe);
      if (!client.destroyed) client.destroy();
      if (!upstream.destroyed) upstream.destroy();
    };
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.on('close', teardown);
    upstream.on('close', teardown);
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const resetAll = (): void => {
    for (const p of [...pipes]) {
      pipes.delete(p);
      p.client.resetAndDestroy();
      p.server.resetAndDestroy();
    }
  };
  const release = (): void => {
    for (const r of held.splice(0)) r();
  };

  return {
    port,
    get accepted() {
      return accepted;
    },
    get live() {
      return pipes.size;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      release();
    },
    drop() {
      dropping = true;
      resetAll();
    },
    allow() {
      dropping = false;
    },
    cut() {
      resetAll();
    },
    async close() {
      dropping = true;
      paused = false;
      release();
      resetAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
