import { spawn } from 'node:child_process';
import { lstat, stat } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../agent/engine/deps.js';
import { silentLogger } from '../../agent/engine/index.js';
import { IngestServer, type IngestSink } from '../../agent/ingest.js';
import { DataBatcher } from '../../agent/ingest-batcher.js';
import type { IngestReply } from '../../agent/ingest-connection.js';
import { IngestPathTooLongError, IngestSocketInUseError } from '../../agent/ingest-errors.js';
import { LineSplitter, type ParsedLines, parseLines, type RecordInput } from '../../agent/ingest-parse.js';
import { withRecordHosts } from '../../agent/ingest-record.js';
import { push, withChannel } from '../../agent/push.js';
import { decodeAgentFrame } from '../../src/protocol/codec.js';
import type { DataMessage } from '../../src/protocol/messages.js';
import { type Sandbox, sandbox, waitFor } from './engine/helpers.js';

const HOST = { id: 'agent-1', name: 'web-1', ip: '10.0.0.1', cloudId: 0 };

function parse(text: string, chunks?: number[]): ParsedLines {
  const splitter = new LineSplitter(64);
  const buf = Buffer.from(text);
  const cuts = chunks ?? [buf.length];
  const lines = [];
  let at = 0;
  for (const c of cuts) {
    lines.push(...splitter.push(buf.subarray(at, at + c)));
    at += c;
  }
  lines.push(...splitter.push(buf.subarray(at)), ...splitter.end());
  return parseLines(lines, 64);
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}
function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** An agent spool stand-in: appends wait for `gate` when set; `unacked` is what `backlog()` reports. */
class FakeSink implements IngestSink {
  messages: DataMessage[] = [];
  unacked = 0;
  gate: Deferred | undefined;
  appendCalls = 0;
  failWith: Error | undefined;
  /** When true, every message counts as acked as soon as it is spooled. */
  autoAck = false;
  async append(msg: DataMessage): Promise<void> {
    this.appendCalls += 1;
    if (this.gate) await this.gate.promise;
    if (this.failWith) throw this.failWith;
    this.messages.push(msg);
    if (!this.autoAck) this.unacked += 1;
  }
  backlog(): number {
    return this.unacked;
  }
  records(): DataMessage['records'] {
    return this.messages.flatMap((m) => m.records);
  }
}

/** A pusher-side connection that collects the agent's answer lines. */
interface Client {
  socket: Socket;
  replies: IngestReply[];
  closed: Promise<void>;
}
async function connectClient(path: string): Promise<Client> {
  const socket = createConnection({ path, allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const replies: IngestReply[] = [];
  const splitter = new LineSplitter(Number.POSITIVE_INFINITY);
  socket.on('data', (b: Buffer) => {
    for (const l of splitter.push(b))
      if ('text' in l && l.text) replies.push(JSON.parse(l.text) as IngestReply);
  });
  // Like `gse-agent push`: once the agent has closed its side there is nothing more to wait for.
  socket.on('end', () => socket.destroy());
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, replies, closed };
}

describe('LineSplitter and parseLines', () => {
  const cases: Array<{
    name: string;
    input: string;
    chunks?: number[];
    channels: string[];
    problems: unknown[];
  }> = [
    {
      name: 'one object per line',
      input: '{"channel":"m","v":1}\n{"channel":"n","v":2}\n',
      channels: ['m', 'n'],
      problems: [],
    },
    {
      name: 'a JSON array on a line, CRLF endings and blank lines',
      input: '\r\n[{"channel":"m"},{"channel":"n"}]\r\n\n{"channel":"o"}',
      channels: ['m', 'n', 'o'],
      problems: [],
    },
    {
      name: 'lines cut across chunks, inside a multi-byte character',
      input: '{"channel":"é","v":"ü"}\n{"channel":"m"}\n',
      chunks: [13, 3, 9],
      channels: ['é', 'm'],
      problems: [],
    },
    {
      name: 'bad lines, numbered',
      input: '{"channel":"m"}\nnot json\n{"v":1}\n42\n[{"channel":"m"},{"channel":""},7]\n',
      channels: ['m', 'm'],
      problems: [
        { line: 2, code: 'bad_json', error: expect.stringContaining('not valid JSON') },
        { line: 3, code: 'no_channel', error: '"channel" must be a non-empty string (got none)' },
        { line: 4, code: 'not_object', error: 'expected a JSON object, got number' },
        { line: 5, code: 'no_channel', error: 'item 1: "channel" must be a non-empty string (got "")' },
        { line: 5, code: 'not_object', error: 'item 2: expected a JSON object, got number' },
      ],
    },
    {
      name: 'a line over the byte limit, also when it never ends',
      input: `{"channel":"m"}\n{"channel":"m","x":"${'x'.repeat(100)}"}\n{"channel":"m"}\n${'y'.repeat(100)}`,
      chunks: [10, 40, 40],
      channels: ['m', 'm'],
      problems: [
        { line: 2, code: 'line_too_long', error: 'line longer than 64 bytes' },
        { line: 4, code: 'line_too_long', error: 'line longer than 64 bytes' },
      ],
    },
  ];
  it.each(cases)('parses $name', ({ input, chunks, channels, problems }) => {
    const out = parse(input, chunks);
    expect(out.inputs.map((i) => i.channel)).toEqual(channels);
    expect(out.problems).toEqual(problems);
  });

  it('keeps every field but channel when it parses a record', () => {
    const out = parse('{"channel":"m","value":12,"tags":{"a":"b"}}\n');
    expect(out.inputs[0]?.fields).toEqual({ value: 12, tags: { a: 'b' } });
  });
});

describe('withRecordHosts (for a controller that does not stamp hosts)', () => {
  const data: DataMessage = {
    v: 1,
    type: 'data',
    id: 'm1',
    records: [
      { rid: 'agent-1-s-1', channel: 'app', time: 't', fields: { n: 1 } },
      { rid: 'agent-1-s-2', channel: 'app', time: 't', fields: { n: 2 } },
    ],
  };

  it('adds the host to every record of a data message, which the controller decodes as before', () => {
    const json = withRecordHosts(JSON.stringify(data), HOST);
    const decoded = decodeAgentFrame(json);
    expect(decoded.ok && decoded.msg.type === 'data' && decoded.msg.records.map((r) => r.host)).toEqual([
      HOST,
      HOST,
    ]);
  });

  it('leaves other messages byte for byte', () => {
    const event = JSON.stringify({
      v: 1,
      type: 'event',
      id: 'e1',
      event: { type: 'x', time: 't', fields: {} },
    });
    expect(withRecordHosts(event, HOST)).toBe(event);
  });

  it('refuses a data frame whose record claims a host of the wrong shape, naming the frame as bad', () => {
    const bad = { ...data, records: [{ ...data.records[0], host: 'web-1' }] };
    const decoded = decodeAgentFrame(JSON.stringify(bad));
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.code).toBe('bad_frame');
    expect(!decoded.ok && decoded.message).toMatch(/host/);
  });

  it('a host-less data frame is valid: the controller stamps the session host', () => {
    const decoded = decodeAgentFrame(JSON.stringify(data));
    expect(decoded.ok).toBe(true);
  });
});

describe('DataBatcher', () => {
  const input = (i: number): RecordInput => ({ channel: 'm', fields: { i }, bytes: 10 });
  let ids = 0;
  const stamp = (r: RecordInput) => ({
    rid: `r-${(r.fields as { i: number }).i}`,
    channel: r.channel,
    time: 't',
    host: HOST,
    fields: r.fields,
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('spools a full message at once when maxRecords is reached', async () => {
    const sink = new FakeSink();
    const b = new DataBatcher(
      { append: (m) => sink.append(m), stamp, newId: () => `m${++ids}` },
      { maxRecords: 3 },
    );
    const outcome = await b.add([0, 1, 2, 3, 4, 5].map(input));
    expect(outcome).toEqual({ accepted: 6, failed: 0 });
    expect(sink.messages.map((m) => m.records.map((r) => r.rid))).toEqual([
      ['r-0', 'r-1', 'r-2'],
      ['r-3', 'r-4', 'r-5'],
    ]);
  });

  it('keeps each default-sized message under 128 KiB, where V8 and malloc make every frame costly', async () => {
    const sink = new FakeSink();
    // An agent named by a long host name: its rids are long, and the batcher counts them.
    const longRid = (r: RecordInput) => ({
      rid: `${'h'.repeat(200)}-mf3k2j1a9c0ffee-${(r.fields as { i: number }).i.toString(36)}`,
      channel: r.channel,
      time: '2026-12-06T06:30:00.123Z',
      fields: r.fields,
    });
    const b = new DataBatcher({ append: (m) => sink.append(m), stamp: longRid, newId: () => `m${++ids}` });
    const inputs = Array.from({ length: 1_000 }, (_, i): RecordInput => {
      const fields = { i, msg: 'x'.repeat(60) };
      return { channel: 'app', fields, bytes: JSON.stringify({ channel: 'app', ...fields }).length + 1 };
    });
    expect(await b.add(inputs)).toEqual({ accepted: 1_000, failed: 0 });
    expect(sink.messages.flatMap((m) => m.records)).toHaveLength(1_000);
    const sizes = sink.messages.map((m) => JSON.stringify(m).length);
    for (const size of sizes) expect(size).toBeLessThan(128 * 1024);
    // Full messages are not needlessly small either: each but the last holds over half the allowance.
    for (const size of sizes.slice(0, -1)) expect(size).toBeGreaterThan(48 * 1024);
  });

  it('spools a partial message when maxDelayMs passes', async () => {
    vi.useFakeTimers();
    const sink = new FakeSink();
    const b = new DataBatcher(
      { append: (m) => sink.append(m), stamp, newId: () => `m${++ids}` },
      { maxRecords: 100, maxDelayMs: 50 },
    );
    const done = b.add([input(1), input(2)]);
    await vi.advanceTimersByTimeAsync(49);
    expect(sink.appendCalls).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(await done).toEqual({ accepted: 2, failed: 0 });
    expect(sink.messages).toHaveLength(1);
  });

  it('cuts messages by bytes when records are large', async () => {
    const sink = new FakeSink();
    const b = new DataBatcher(
      { append: (m) => sink.append(m), stamp, newId: () => `m${++ids}` },
      { maxRecords: 100, maxBytes: 1_000 },
    );
    const big = (i: number): RecordInput => ({ channel: 'm', fields: { i }, bytes: 400 });
    const pending = b.add([big(1), big(2), big(3)]);
    await b.flush();
    expect(await pending).toEqual({ accepted: 3, failed: 0 });
    expect(sink.messages.map((m) => m.records.length)).toEqual([1, 1, 1]);
  });

  it('reports records as failed when the spool append fails', async () => {
    const sink = new FakeSink();
    sink.failWith = new Error('disk full');
    const b = new DataBatcher(
      { append: (m) => sink.append(m), stamp, newId: () => `m${++ids}` },
      { maxRecords: 2 },
    );
    expect(await b.add([input(1), input(2)])).toEqual({ accepted: 0, failed: 2, error: 'disk full' });
  });
});

describe('IngestServer', () => {
  let box: Sandbox;
  let socketPath: string;
  let sink: FakeSink;
  const servers: IngestServer[] = [];
  const clients: Socket[] = [];
  const start = async (opts: Partial<Parameters<typeof IngestServer.start>[0]> = {}) => {
    const s = await IngestServer.start(
      { socketPath, batch: { maxRecords: 3, maxDelayMs: 5 }, ...opts },
      { sink, agentId: () => HOST.id, clock: systemClock, logger: silentLogger },
    );
    servers.push(s);
    return s;
  };
  const client = async () => {
    const c = await connectClient(socketPath);
    clients.push(c.socket);
    return c;
  };

  beforeEach(async () => {
    box = await sandbox('gse-ingest-');
    socketPath = join(box.dir, 'ingest.sock');
    sink = new FakeSink();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    sink.gate?.resolve();
    for (const s of servers.splice(0)) await s.close();
    await box.cleanup();
  });

  it('stamps records with rid, time and host when it spools them', async () => {
    await start();
    const c = await client();
    c.socket.end('{"channel":"metrics","value":12}\n{"channel":"metrics","value":5}\n');
    await c.closed;
    const recs = sink.records();
    expect(recs).toHaveLength(2);
    expect(recs[0]).toEqual({
      rid: expect.stringMatching(/^agent-1-[0-9a-z]+-1$/),
      channel: 'metrics',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      fields: { value: 12 },
    });
    // The controller stamps the host from the session: the agent does not spend a third of each record on it.
    expect(recs[0]).not.toHaveProperty('host');
    expect(new Set(recs.map((r) => r.rid)).size).toBe(2);
    expect(c.replies.at(-1)).toEqual({ done: true, accepted: 2, refused: 0 });
  });

  it('answers accepted only after the spool append resolves', async () => {
    await start();
    sink.gate = deferred();
    const c = await client();
    c.socket.write('{"channel":"m"}\n{"channel":"m"}\n{"channel":"m"}\n');
    await waitFor(() => sink.appendCalls === 1, 'append called');
    // A full round trip through the server on another connection (a refused line, no spool involved):
    // an answer the server had written to the first connection by then would have arrived too.
    const other = await client();
    other.socket.end('nope\n');
    await other.closed;
    expect(other.replies.at(-1)).toEqual({ done: true, accepted: 0, refused: 1 });
    expect(c.replies).toEqual([]);
    sink.gate.resolve();
    await waitFor(() => c.replies.length === 1, 'acceptance');
    expect(c.replies).toEqual([{ ok: true, accepted: 3 }]);
  });

  it('answers bad lines with their numbers and keeps the connection usable when lines are bad', async () => {
    await start();
    const c = await client();
    c.socket.write('{"channel":"m"}\nnope\n');
    await waitFor(() => c.replies.length === 2, 'first answers');
    c.socket.end('{"v":1}\n{"channel":"m"}\n');
    await c.closed;
    expect(c.replies).toEqual([
      { ok: false, line: 2, code: 'bad_json', error: expect.stringContaining('not valid JSON') },
      { ok: true, accepted: 1 },
      { ok: false, line: 3, code: 'no_channel', error: '"channel" must be a non-empty string (got none)' },
      { ok: true, accepted: 1 },
      { done: true, accepted: 2, refused: 2 },
    ]);
  });

  it('reports spool failures as refused records when the append fails', async () => {
    await start();
    sink.failWith = new Error('disk full');
    const c = await client();
    c.socket.end('{"channel":"m"}\n');
    await c.closed;
    expect(c.replies).toEqual([
      { ok: false, code: 'spool_failed', error: 'disk full', refused: 1 },
      { done: true, accepted: 0, refused: 1 },
    ]);
  });

  it('creates the socket with mode 0600 and replaces a stale socket file when it starts', async () => {
    // A process killed while listening leaves its socket file behind with nobody answering on it.
    const holder = spawn(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`,
    ]);
    await new Promise((r) => holder.stdout.once('data', r));
    const exited = new Promise((r) => holder.once('exit', r));
    holder.kill('SIGKILL');
    await exited;
    expect((await lstat(socketPath)).isSocket()).toBe(true);
    await start();
    expect((await stat(socketPath)).mode & 0o777).toBe(0o600);
    const c = await client();
    c.socket.end('{"channel":"m"}\n');
    await c.closed;
    expect(sink.records()).toHaveLength(1);
  });

  it('refuses to start when another server answers on the socket', async () => {
    await start();
    await expect(
      IngestServer.start(
        { socketPath },
        { sink, agentId: () => HOST.id, clock: systemClock, logger: silentLogger },
      ),
    ).rejects.toBeInstanceOf(IngestSocketInUseError);
  });

  it('refuses a socket path longer than a unix socket allows', async () => {
    await expect(
      IngestServer.start(
        { socketPath: join(box.dir, 'x'.repeat(120), 'ingest.sock') },
        { sink, agentId: () => HOST.id, clock: systemClock, logger: silentLogger },
      ),
    ).rejects.toBeInstanceOf(IngestPathTooLongError);
  });

  it('stops reading every socket while the backlog is over the limit and resumes when acks drain it', async () => {
    const server = await start({ maxBacklog: 2 });
    const c = await client();
    const line = '{"channel":"m","pad":"0123456789012345678901234567890123456789"}\n';
    c.socket.write(line.repeat(6));
    await waitFor(() => server.paused, 'paused');
    expect(sink.unacked).toBe(2);
    await waitFor(() => server.stats().pausedConnections === 1, 'socket paused');
    // With the agent not reading, a big write stays queued on the pusher's side: back-pressure reached it.
    c.socket.write(line.repeat(20_000));
    await waitFor(() => c.socket.writableLength > 0, 'pusher buffering');
    expect(sink.records()).toHaveLength(6);
    // The controller acks: the backlog drops below half the limit and reading resumes.
    sink.autoAck = true;
    sink.unacked = 0;
    server.onBacklogShrunk();
    expect(server.paused).toBe(false);
    c.socket.end();
    await c.closed;
    expect(c.replies.at(-1)).toEqual({ done: true, accepted: 20_006, refused: 0 });
    expect(server.stats().pauses).toBeGreaterThanOrEqual(1);
    expect(sink.records()).toHaveLength(20_006);
  });

  it('reads no socket while control work holds data work, and reads on once it stops', async () => {
    let held = false;
    const server = await IngestServer.start(
      { socketPath, batch: { maxRecords: 3, maxDelayMs: 5 } },
      { sink, agentId: () => HOST.id, clock: systemClock, logger: silentLogger, held: () => held },
    );
    servers.push(server);
    const c = await client();
    const line = '{"channel":"m","v":1}\n';
    c.socket.write(line.repeat(3));
    await waitFor(() => sink.records().length === 3, 'first records');
    held = true;
    server.onPriorityChanged();
    await waitFor(() => server.stats().pausedConnections === 1, 'socket held');
    c.socket.write(line.repeat(3));
    await new Promise((r) => setTimeout(r, 50));
    expect(sink.records()).toHaveLength(3);
    held = false;
    server.onPriorityChanged();
    c.socket.end();
    await c.closed;
    expect(c.replies.at(-1)).toEqual({ done: true, accepted: 6, refused: 0 });
    expect(sink.records()).toHaveLength(6);
  });

  it('answers what it read, tells the pusher the rest was not read, and removes the socket when it closes', async () => {
    const server = await start();
    const c = await client();
    c.socket.write('{"channel":"m"}\n');
    await waitFor(() => c.replies.length === 1, 'first acceptance');
    await server.close();
    await c.closed;
    expect(c.replies).toEqual([
      { ok: true, accepted: 1 },
      { ok: false, code: 'closing', error: 'agent stopping: nothing after line 1 was read' },
    ]);
    await expect(lstat(socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('accepts a JSON array and JSON lines over HTTP, answering 422 with line numbers when some are bad', async () => {
    const server = await start({ httpPort: 0 });
    const url = `http://127.0.0.1:${server.httpPort}/v1/records`;
    const ok = await fetch(url, {
      method: 'POST',
      body: '[\n {"channel":"m","v":1},\n {"channel":"m","v":2}\n]',
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ ok: true, accepted: 2, refused: 0 });
    const partial = await fetch(url, { method: 'POST', body: '{"channel":"m"}\n{"nope":1}\n' });
    expect(partial.status).toBe(422);
    expect(await partial.json()).toEqual({
      ok: false,
      accepted: 1,
      refused: 1,
      errors: [{ line: 2, code: 'no_channel', error: '"channel" must be a non-empty string (got none)' }],
    });
    expect(sink.records()).toHaveLength(3);
  });

  it('answers 503 over HTTP when the backlog is over the limit', async () => {
    const server = await start({ httpPort: 0, maxBacklog: 1 });
    sink.unacked = 5;
    server.onBacklogShrunk();
    const res = await fetch(`http://127.0.0.1:${server.httpPort}/v1/records`, {
      method: 'POST',
      body: '{"channel":"m"}\n',
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(sink.appendCalls).toBe(0);
  });
});

describe('push', () => {
  let box: Sandbox;
  let server: IngestServer;
  let sink: FakeSink;
  let socketPath: string;
  beforeEach(async () => {
    box = await sandbox('gse-push-');
    socketPath = join(box.dir, 'ingest.sock');
    sink = new FakeSink();
    server = await IngestServer.start(
      { socketPath },
      { sink, agentId: () => HOST.id, clock: systemClock, logger: silentLogger },
    );
  });
  afterEach(async () => {
    await server.close();
    await box.cleanup();
  });

  it('adds the channel to records without one when a channel is given', () => {
    expect(withChannel('{"v":1}', 'm')).toBe('{"channel":"m","v":1}');
    expect(withChannel('{"channel":"x","v":1}', 'm')).toBe('{"channel":"x","v":1}');
    expect(withChannel('[{"v":1},{"channel":"x"}]', 'm')).toBe('[{"channel":"m","v":1},{"channel":"x"}]');
    expect(withChannel('not json', 'm')).toBe('not json');
  });

  it('reports every record accepted when the agent took them all', async () => {
    const lines = Array.from({ length: 1_200 }, (_, i) => JSON.stringify({ v: i })).join('\n');
    const result = await push({ socketPath, input: Readable.from([lines]), channel: 'metrics' });
    expect(result).toEqual({ ok: true, accepted: 1_200, refused: 0, errors: [] });
    expect(sink.records().every((r) => r.channel === 'metrics')).toBe(true);
  });

  it('reports refused lines by input line number when some are bad', async () => {
    const result = await push({ socketPath, input: Readable.from(['{"v":1}\n\n{oops\n{"v":2}\n']) });
    expect(result.ok).toBe(false);
    expect(result.accepted).toBe(0);
    expect(result.refused).toBe(3);
    expect(result.errors).toEqual([
      'line 1: "channel" must be a non-empty string (got none)',
      expect.stringMatching(/^line 3: not valid JSON/),
      'line 4: "channel" must be a non-empty string (got none)',
    ]);
  });

  it('fails with the socket path when no agent listens', async () => {
    const result = await push({ socketPath: join(box.dir, 'none.sock'), input: Readable.from(['{}']) });
    expect(result.ok).toBe(false);
    expect(result.errors[0]).toContain('none.sock');
  });
});
