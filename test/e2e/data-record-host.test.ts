/**
 * Who puts the host on a data record. The controller stamps every record with its session's host (an agent
 * cannot speak for another) and says so in `welcome` (`stampsHost`); the agent then leaves `host` out, a third
 * of a record's bytes on its disk and on the wire. A controller from before that (no `stampsHost`) refuses a
 * record without a host, so the agent adds it on the way out. Both against a real agent process, over a real
 * ws connection to a stand-in that speaks only the handshake, as each controller generation does.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { push } from '../../agent/push.js';
import { decodeAgentFrame } from '../../src/protocol/codec.js';
import type { DataMessage, WelcomeMessage } from '../../src/protocol/messages.js';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';

interface StandIn {
  url: string;
  /** Resolves with the first data message the agent sends. */
  firstData: Promise<DataMessage>;
  close(): Promise<void>;
}

/** A ws server that welcomes any agent (with `extra` in the welcome), acks what it sends and keeps its data. */
async function standIn(extra: Partial<WelcomeMessage>): Promise<StandIn> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  let gotData!: (msg: DataMessage) => void;
  const firstData = new Promise<DataMessage>((resolve) => {
    gotData = resolve;
  });
  wss.on('connection', (ws: WebSocket) => {
    ws.on('message', (raw) => {
      const decoded = decodeAgentFrame(raw as Buffer);
      if (!decoded.ok) throw new Error(`agent sent a bad frame: ${decoded.message}`);
      const msg = decoded.msg;
      if (msg.type === 'hello') {
        const welcome: WelcomeMessage = {
          v: 1,
          type: 'welcome',
          agentId: msg.agentId,
          credential: 'stand-in-credential-0123456789abcdef',
          heartbeatMs: 30_000,
          window: 64,
          ...extra,
        };
        ws.send(JSON.stringify(welcome));
        return;
      }
      if (msg.type === 'heartbeat' || msg.type === 'error') return;
      ws.send(JSON.stringify({ v: 1, type: 'ack', ids: [msg.id] }));
      if (msg.type === 'data') gotData(msg);
    });
  });
  const { port } = wss.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}/agent`,
    firstData,
    close: () => new Promise((resolve) => wss.close(() => resolve())),
  };
}

describe('data records and their host', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function firstRecords(
    extra: Partial<WelcomeMessage>,
  ): Promise<{ msg: DataMessage; agent: AgentProcess }> {
    const server = await standIn(extra);
    cleanups.push(() => server.close());
    const agent = await startAgentProcess({ controllerUrl: server.url, name: 'web-7', ip: '10.9.8.7' });
    cleanups.push(() => agent.cleanup());
    const socketPath = join(agent.stateDir, 'ingest.sock');
    let pushed = await push({ socketPath, input: ['{"channel":"app","n":1}\n'] }).catch(() => undefined);
    for (let i = 0; !pushed?.ok && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50));
      pushed = await push({ socketPath, input: ['{"channel":"app","n":1}\n'] }).catch(() => undefined);
    }
    expect(pushed?.ok).toBe(true);
    return { msg: await server.firstData, agent };
  }

  it('leaves the host out when the controller stamps it', async () => {
    const { msg } = await firstRecords({ stampsHost: true });
    expect(msg.records[0]).toMatchObject({ channel: 'app', fields: { n: 1 } });
    expect(msg.records[0]).not.toHaveProperty('host');
  }, 30_000);

  it('adds the host for an older controller that does not say it stamps one', async () => {
    const { msg } = await firstRecords({});
    const agentId = msg.records[0]?.rid.split('-').slice(0, -2).join('-');
    expect(msg.records[0]).toMatchObject({
      channel: 'app',
      fields: { n: 1 },
      host: { id: agentId, name: 'web-7', ip: '10.9.8.7', cloudId: 0 },
    });
  }, 30_000);
});
