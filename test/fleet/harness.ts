/** Test harness for the fleet hub: a real HTTP server on 127.0.0.1:0, a fake clock and a real ws agent client. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import type { CancelTimer, Clock, HubHandlers, SessionInfo } from '../../src/fleet/deps.js';
import { FleetHub } from '../../src/fleet/hub.js';
import type { HubOptions } from '../../src/fleet/options.js';
import { type AgentRegistry, MemoryAgentRegistry } from '../../src/fleet/registry.js';
import { decodeControllerFrame } from '../../src/protocol/codec.js';
import type { ControllerToAgent, HelloMessage, SpooledMessage } from '../../src/protocol/messages.js';

export const TOKEN = 'bootstrap-token-for-tests';

/** A clock that only moves when told to. */
export class FakeClock implements Clock {
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 0;

  constructor(private current = Date.parse('2024-01-01T00:00:00Z')) {}

  now(): number {
    return this.current;
  }

  setTimer(ms: number, fn: () => void): CancelTimer {
    const id = this.nextId++;
    this.timers.push({ at: this.current + ms, fn, id });
    return () => {
      this.timers = this.timers.filter((t) => t.id !== id);
    };
  }

  /** Moves time forward, firing the timers that fall due, in order. */
  advance(ms: number): void {
    this.current += ms;
    const due = this.timers.filter((t) => t.at <= this.current).sort((a, b) => a.at - b.at);
    this.timers = this.timers.filter((t) => t.at > this.current);
    for (const t of due) t.fn();
  }
}

/** Handlers that record every call; onMessage resolves unless `impl` says otherwise. */
export class RecordingHandlers implements HubHandlers {
  readonly calls: string[] = [];
  readonly messages: { agentId: string; msg: SpooledMessage }[] = [];
  impl: (agentId: string, msg: SpooledMessage) => Promise<void> = async () => {};

  async onConnect(session: SessionInfo, _ready: () => void): Promise<void> {
    this.calls.push(`connect ${session.agentId}`);
  }

  async onDisconnect(agentId: string, reason: string): Promise<void> {
    this.calls.push(`disconnect ${agentId}: ${reason}`);
  }

  async onMessage(agentId: string, msg: SpooledMessage): Promise<void> {
    this.messages.push({ agentId, msg });
    await this.impl(agentId, msg);
  }
}

export interface TestHub {
  hub: FleetHub;
  server: Server;
  url: string;
  registry: AgentRegistry;
  handlers: RecordingHandlers;
  clock: Clock;
  close(): Promise<void>;
}

/** Starts a hub on a fresh HTTP server bound to 127.0.0.1 on a free port. */
export async function startHub(
  options: Partial<HubOptions> = {},
  deps: { registry?: AgentRegistry; clock?: Clock } = {},
): Promise<TestHub> {
  const server = createServer((_req, res) => res.writeHead(404).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const registry = deps.registry ?? new MemoryAgentRegistry();
  const handlers = new RecordingHandlers();
  const clock = deps.clock ?? new FakeClock();
  const hub = await FleetHub.create(
    server,
    { bootstrapToken: TOKEN, ...options },
    { registry, handlers, clock },
  );
  return {
    hub,
    server,
    url: `ws://127.0.0.1:${port}/agent`,
    registry,
    handlers,
    clock,
    async close() {
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A hello for `agentId`, with the bootstrap token unless overridden. */
export function helloFor(
  agentId: string,
  auth: { bootstrapToken?: string; credential?: string } = {},
): HelloMessage {
  const creds =
    auth.credential !== undefined || auth.bootstrapToken !== undefined ? auth : { bootstrapToken: TOKEN };
  return {
    v: 1,
    type: 'hello',
    agentId,
    ...creds,
    facts: { name: agentId, ips: ['127.0.0.1'], cloudId: 0, os: 'linux', agentVersion: '0.1.0', labels: {} },
    manifestHash: '',
    spoolHighWater: 0,
  };
}

/** A real ws client that records what the controller sends and how the connection ended. */
export class TestAgent {
  readonly received: ControllerToAgent[] = [];
  /** Frames that did not decode as controller messages (should stay empty). */
  readonly garbage: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const decoded = isBinary ? undefined : decodeControllerFrame(data as Buffer);
      if (decoded?.ok) this.received.push(decoded.msg);
      else this.garbage.push(String(data));
      this.wake();
    });
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.wake();
      });
    });
  }

  /** Opens a connection to `url`. */
  static async connect(url: string): Promise<TestAgent> {
    const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
    const agent = new TestAgent(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return agent;
  }

  /** Connects and sends `hello`; resolves with the welcome (or throws with the refusal). */
  static async enroll(url: string, hello: HelloMessage): Promise<{ agent: TestAgent; credential?: string }> {
    const agent = await TestAgent.connect(url);
    agent.send(hello);
    const reply = await agent.next((m) => m.type === 'welcome' || m.type === 'error');
    if (reply.type !== 'welcome') throw new Error(`refused: ${JSON.stringify(reply)}`);
    return reply.credential === undefined ? { agent } : { agent, credential: reply.credential };
  }

  /** Sends a JSON value (or a raw string) as a text frame. */
  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** The first received message matching `pred`, waiting for it if needed; rejects if the socket closes first. */
  async next<T extends ControllerToAgent>(pred: (m: ControllerToAgent) => m is T): Promise<T>;
  async next(pred: (m: ControllerToAgent) => boolean): Promise<ControllerToAgent>;
  async next(pred: (m: ControllerToAgent) => boolean): Promise<ControllerToAgent> {
    for (;;) {
      const found = this.received.find(pred);
      if (found) return found;
      if (this.ws.readyState === WebSocket.CLOSED)
        throw new Error('connection closed before the message came');
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Sends a heartbeat and waits for the answer: everything the hub sent before it has arrived. */
  async roundTrip(): Promise<void> {
    const time = `rt-${this.received.length}`;
    const before = this.received.length;
    this.send({ v: 1, type: 'heartbeat', time });
    await this.next((m) => m.type === 'heartbeat' && this.received.indexOf(m) >= before);
  }

  /** A ws ping/pong: the hub has processed everything sent before it (works before the handshake too). */
  async ping(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.ws.once('pong', () => resolve());
      this.ws.ping();
    });
  }

  /** Ids carried by every ack received so far. */
  ackedIds(): string[] {
    return this.received.flatMap((m) => (m.type === 'ack' ? m.ids : []));
  }

  close(): void {
    this.ws.close();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** A report frame with id `id`. */
export function reportFrame(id: string): SpooledMessage {
  return { v: 1, type: 'report', id, manifestHash: '', revision: '', items: [] };
}

/** A promise with its resolve/reject exposed. */
export function deferred(): { promise: Promise<void>; resolve(): void; reject(err: Error): void } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
