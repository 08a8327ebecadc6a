/**
 * One pusher connected to `ingest.sock`. It reads lines, hands their records to the batcher and answers,
 * in order, one line per chunk read: `{"ok":true,"accepted":N}` once those records are in the spool, and
 * `{"ok":false,"line":L,"code":...,"error":...}` for each line refused. When the pusher half-closes, a
 * final `{"done":true,"accepted":A,"refused":R}` follows and the agent closes its side. The socket stops
 * being read while the server is under back-pressure or too many of this connection's records wait for
 * the spool, so a fast pusher is slowed down instead of growing the agent's memory.
 */
import type { Socket } from 'node:net';
import type { Logger } from './engine/index.js';
import type { AddOutcome } from './ingest-batcher.js';
import type { LineProblemCode } from './ingest-errors.js';
import {
  type EventInput,
  LineSplitter,
  MAX_LINE_BYTES,
  parseLines,
  type RecordInput,
  type SplitLine,
} from './ingest-parse.js';

/** Records one connection may have waiting for the spool before its socket stops being read. */
export const MAX_UNCONFIRMED_RECORDS_PER_CONNECTION = 5_000;

/** A line the agent writes back on the socket. */
export type IngestReply =
  | { ok: true; accepted: number }
  | { ok: false; line?: number; code: LineProblemCode; error: string; refused?: number }
  | { done: true; accepted: number; refused: number };

export interface ConnectionDeps {
  /** Batches records into the spool (the server's DataBatcher). */
  add(inputs: readonly RecordInput[]): Promise<AddOutcome>;
  /** Raises pushed custom events (spooled when it resolves). */
  raise(events: readonly EventInput[]): Promise<AddOutcome>;
  /** True while the server holds every socket (the spool is over its limit). */
  serverPaused(): boolean;
  onClose(conn: IngestConnection): void;
  /** Counts for the server's stats. */
  onCounted(accepted: number, refused: number): void;
  logger: Logger;
  maxUnconfirmed?: number;
  maxLineBytes?: number;
}

export class IngestConnection {
  private readonly splitter: LineSplitter;
  private chain: Promise<void> = Promise.resolve();
  private unconfirmed = 0;
  private accepted = 0;
  private refused = 0;
  private lastLine = 0;
  private stopping = false;
  readonly closed: Promise<void>;

  constructor(
    private readonly socket: Socket,
    private readonly deps: ConnectionDeps,
  ) {
    this.splitter = new LineSplitter(deps.maxLineBytes ?? MAX_LINE_BYTES);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.take(this.splitter.push(chunk)));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err) => deps.logger.debug('ingest connection error', { error: err.message }));
    socket.once('close', () => deps.onClose(this));
    this.updateFlow();
  }

  /** True while this socket is not being read. */
  get paused(): boolean {
    return this.socket.isPaused();
  }

  /** Pauses or resumes reading after the server's or this connection's pressure changed. */
  updateFlow(): void {
    if (this.stopping || this.socket.destroyed) return;
    const max = this.deps.maxUnconfirmed ?? MAX_UNCONFIRMED_RECORDS_PER_CONNECTION;
    const hold = this.deps.serverPaused() || this.unconfirmed >= max;
    if (hold && !this.socket.isPaused()) this.socket.pause();
    else if (!hold && this.socket.isPaused()) this.socket.resume();
  }

  /** Agent stopping: stops reading, answers for what was read, tells the pusher the rest was not, closes. */
  async shutdown(): Promise<void> {
    if (this.stopping) return this.closed;
    this.stopping = true;
    this.socket.pause();
    await this.chain;
    this.reply({
      ok: false,
      code: 'closing',
      error: `agent stopping: nothing after line ${this.lastLine} was read`,
    });
    this.socket.end(() => this.socket.destroy());
    return this.closed;
  }

  /** Closes the socket at once (after shutdown timed out). */
  destroy(): void {
    this.socket.destroy();
  }

  private take(lines: SplitLine[]): void {
    if (lines.length === 0) return;
    this.lastLine = (lines.at(-1) as SplitLine).no;
    const { inputs, events, problems } = parseLines(lines, this.deps.maxLineBytes ?? MAX_LINE_BYTES);
    const pending = inputs.length > 0 ? this.deps.add(inputs) : undefined;
    const raised = events.length > 0 ? this.deps.raise(events) : undefined;
    const waiting = inputs.length + events.length;
    this.unconfirmed += waiting;
    this.updateFlow();
    this.chain = this.chain.then(async () => {
      for (const p of problems) this.reply({ ok: false, line: p.line, code: p.code, error: p.error });
      this.refused += problems.length;
      this.deps.onCounted(0, problems.length);
      if (!pending && !raised) return;
      const o = sumOutcomes(await Promise.all([pending, raised]));
      this.unconfirmed -= waiting;
      this.accepted += o.accepted;
      this.refused += o.failed;
      this.deps.onCounted(o.accepted, o.failed);
      if (o.accepted > 0) this.reply({ ok: true, accepted: o.accepted });
      if (o.failed > 0)
        this.reply({ ok: false, code: 'spool_failed', error: o.error ?? 'spool failed', refused: o.failed });
      this.updateFlow();
    });
  }

  private onEnd(): void {
    if (this.stopping) return;
    this.take(this.splitter.end());
    this.chain
      .then(() => {
        this.reply({ done: true, accepted: this.accepted, refused: this.refused });
        this.socket.end();
      })
      .catch((err: unknown) => {
        this.deps.logger.error('ingest: closing a connection failed', { error: String(err) });
      });
  }

  private reply(r: IngestReply): void {
    if (this.socket.writable) this.socket.write(`${JSON.stringify(r)}\n`);
  }
}

/** The outcomes of one chunk's records and events, as one. */
export function sumOutcomes(outcomes: ReadonlyArray<AddOutcome | undefined>): AddOutcome {
  const sum: AddOutcome = { accepted: 0, failed: 0 };
  for (const o of outcomes) {
    if (!o) continue;
    sum.accepted += o.accepted;
    sum.failed += o.failed;
    if (o.error !== undefined) sum.error ??= o.error;
  }
  return sum;
}
