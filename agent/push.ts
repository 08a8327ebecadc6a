/**
 * `gse-agent push --state-dir D [--channel C] < records.jsonl`: the collector-side helper. Streams the input
 * lines to the agent's `ingest.sock` (adding `channel` to records without one when `--channel` is given),
 * then waits until the agent has confirmed or refused every record. Line numbers in the agent's answers are
 * those of the input, since every line (blank ones too) is forwarded in order.
 * `gse-agent push --event custom.<name> [--field k=v | --field k:=JSON ...]` raises one custom host event.
 */
import { createConnection, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { IngestReply } from './ingest-connection.js';
import { customEventProblem, LineSplitter } from './ingest-parse.js';

/** Input lines are gathered into writes of about this size. */
const WRITE_CHUNK_BYTES = 64 * 1024;
/** Errors listed in the result; the counts stay complete. */
const MAX_LISTED_ERRORS = 100;

export interface PushOptions {
  socketPath: string;
  input: Readable | AsyncIterable<Buffer | string> | Iterable<Buffer | string>;
  /** Given to records that carry no `channel`. */
  channel?: string;
}

export interface PushResult {
  /** True when the agent confirmed every record and refused none. */
  ok: boolean;
  accepted: number;
  refused: number;
  /** One line per problem: `line 3: not valid JSON: ...`. */
  errors: string[];
}

/** Error with a code, for a socket nobody listens on. */
export class PushConnectError extends Error {
  readonly code = 'PUSH_CONNECT_FAILED';
  constructor(
    readonly socketPath: string,
    cause: unknown,
  ) {
    super(
      `cannot connect to ${socketPath}: ${cause instanceof Error ? cause.message : String(cause)} (is the agent running with this --state-dir?)`,
      { cause },
    );
    this.name = 'PushConnectError';
  }
}

/** Pushes every input line to the agent and resolves with what it accepted and refused (never rejects). */
export async function push(options: PushOptions): Promise<PushResult> {
  let socket: Socket;
  try {
    socket = await connect(options.socketPath);
  } catch (err) {
    return { ok: false, accepted: 0, refused: 0, errors: [(err as Error).message] };
  }
  const replies = collectReplies(socket);
  let sendError: unknown;
  // The agent may close first (it is stopping): then stop sending rather than wait for more input.
  const sent = sendLines(socket, options.input, options.channel).then(
    () => socket.end(),
    (err: unknown) => {
      if (!socket.destroyed) sendError = err;
      socket.destroy();
    },
  );
  const r = await Promise.race([replies, sent.then(() => replies)]);
  if (sendError) r.errors.push(`sending failed: ${String(sendError)}`);
  return {
    ok: r.done && !sendError && r.refused === 0,
    accepted: r.accepted,
    refused: r.refused,
    errors: r.done
      ? r.errors
      : [...r.errors, 'the agent closed the connection before confirming every record'],
  };
}

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path, allowHalfOpen: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', (err) => reject(new PushConnectError(path, err)));
  });
}

async function sendLines(
  socket: Socket,
  input: PushOptions['input'],
  channel: string | undefined,
): Promise<void> {
  const splitter = new LineSplitter(Number.POSITIVE_INFINITY);
  let out = '';
  const write = async (force: boolean) => {
    if (out.length === 0 || (!force && out.length < WRITE_CHUNK_BYTES)) return;
    const ok = socket.write(out);
    out = '';
    if (!ok) await waitDrain(socket);
  };
  for await (const chunk of input) {
    for (const line of splitter.push(chunk)) {
      out += `${'text' in line ? withChannel(line.text, channel) : ''}\n`;
      await write(false);
    }
  }
  for (const line of splitter.end()) out += `${'text' in line ? withChannel(line.text, channel) : ''}\n`;
  await write(true);
}

function waitDrain(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      socket.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      socket.off('drain', onDrain);
      reject(new Error('connection closed by the agent'));
    };
    socket.once('drain', onDrain);
    socket.once('close', onClose);
  });
}

/** The line with `channel` added to the record (or the array's records) lacking one; as is otherwise. */
export function withChannel(text: string, channel: string | undefined): string {
  if (channel === undefined || text.trim() === '') return text;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text; // the agent reports it, with its line number
  }
  const fill = (v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v) && !('channel' in v) ? { channel, ...v } : v;
  return JSON.stringify(Array.isArray(value) ? value.map(fill) : fill(value));
}

interface Collected {
  done: boolean;
  accepted: number;
  refused: number;
  errors: string[];
}

function collectReplies(socket: Socket): Promise<Collected> {
  const r: Collected = { done: false, accepted: 0, refused: 0, errors: [] };
  const note = (msg: string) => {
    if (r.errors.length < MAX_LISTED_ERRORS) r.errors.push(msg);
  };
  const splitter = new LineSplitter(Number.POSITIVE_INFINITY);
  socket.on('data', (chunk: Buffer) => {
    for (const line of splitter.push(chunk)) {
      if (!('text' in line) || line.text === '') continue;
      let reply: IngestReply;
      try {
        reply = JSON.parse(line.text) as IngestReply;
      } catch {
        note(`unreadable answer from the agent: ${line.text.slice(0, 200)}`);
        continue;
      }
      if ('done' in reply) {
        r.done = true;
        r.accepted = reply.accepted;
        r.refused = reply.refused;
      } else if (reply.ok) {
        if (!r.done) r.accepted += reply.accepted;
      } else {
        note(
          reply.line !== undefined ? `line ${reply.line}: ${reply.error}` : `${reply.code}: ${reply.error}`,
        );
        // `closing` is about lines never read, which the missing `done` already reports.
        if (!r.done && reply.code !== 'closing') r.refused += reply.refused ?? 1;
      }
    }
  });
  // Once the agent has closed its side (after `done`, or when stopping) no answer can follow.
  socket.on('end', () => socket.destroy());
  return new Promise((resolve) => {
    socket.on('error', (err) => note(`connection error: ${err.message}`));
    socket.once('close', () => resolve(r));
  });
}

/** A bad `--event` or `--field` argument, with the fix. */
export class PushArgumentError extends Error {
  readonly code = 'PUSH_BAD_ARGUMENT';
  constructor(message: string) {
    super(message);
    this.name = 'PushArgumentError';
  }
}

/** Field names a pushed event cannot carry (the event line's own key). */
const RESERVED_FIELDS = new Set(['event', 'channel']);

/**
 * The fields of `--field` arguments (pure): `k=v` sets a string, `k:=JSON` a JSON value (number, boolean,
 * object...); a later key replaces an earlier one. Throws PushArgumentError naming the bad argument.
 */
export function parseEventFields(args: readonly string[]): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    const json = eq > 0 && arg[eq - 1] === ':';
    const key = eq < 0 ? '' : arg.slice(0, json ? eq - 1 : eq);
    if (key === '')
      throw new PushArgumentError(
        `--field "${arg}": expected KEY=VALUE (a string) or KEY:=JSON, e.g. job=db`,
      );
    if (RESERVED_FIELDS.has(key))
      throw new PushArgumentError(`--field "${arg}": "${key}" is reserved; name the field otherwise`);
    const raw = arg.slice(eq + 1);
    if (!json) {
      fields[key] = raw;
      continue;
    }
    try {
      fields[key] = JSON.parse(raw);
    } catch (err) {
      throw new PushArgumentError(
        `--field "${arg}": ${(err as Error).message}; KEY:=VALUE takes JSON (3, true, "text"); use KEY=VALUE for a string`,
      );
    }
  }
  return fields;
}

/** The ingest line of a custom event; throws PushArgumentError when the name is not custom.<name>. */
export function eventLine(event: string, fields: Record<string, unknown>): string {
  const problem = customEventProblem(event);
  if (problem) throw new PushArgumentError(`--event: ${problem}`);
  return JSON.stringify({ ...fields, event });
}

/** Raises one custom event through the agent's ingest socket; resolves like `push` (never rejects). */
export function pushEvent(options: {
  socketPath: string;
  event: string;
  fields: Record<string, unknown>;
}): Promise<PushResult> {
  return push({ socketPath: options.socketPath, input: [`${eventLine(options.event, options.fields)}\n`] });
}
