/**
 * Parsing what local programs push: a byte stream split into numbered lines, each line one JSON object
 * (`{"channel": "...", ...fields}`) or a JSON array of them. An object with no `channel` and an `event`
 * (`{"event": "custom.<name>", ...fields}`) is a host event to raise, not a record. Pure: no I/O, no clock.
 */
import { StringDecoder } from 'node:string_decoder';
import type { LineProblemCode } from './ingest-errors.js';

/** A line longer than this (UTF-8 bytes) is refused, so one record always fits a data frame. */
export const MAX_LINE_BYTES = 512 * 1024;

/** One record to be, before the agent stamps it with rid, time and host. */
export interface RecordInput {
  channel: string;
  fields: Record<string, unknown>;
  /** Approximate serialised size, for batching by bytes. */
  bytes: number;
}

/** A custom host event a local program pushed (`custom.<name>`), before the agent stamps its time. */
export interface EventInput {
  type: string;
  fields: Record<string, unknown>;
}

/** What a pushed event may be named: `custom.` then lower-case letters, digits, `_`, `.` and `-`. */
export const CUSTOM_EVENT_NAME = /^custom\.[a-z0-9_.-]+$/;

/** Undefined when `name` is a custom event type a program may push; else why not, and the fix. */
export function customEventProblem(name: unknown): string | undefined {
  if (typeof name === 'string' && CUSTOM_EVENT_NAME.test(name)) return undefined;
  const got = typeof name === 'string' ? JSON.stringify(name) : name === null ? 'null' : typeof name;
  return `"event" must be custom.<name>, <name> made of a-z, 0-9, "_", "." and "-" (got ${got}); only custom events may be pushed, e.g. custom.backup_failed`;
}

/** A line (or an item of a line's array) that was not accepted, reported to the pusher. */
export interface LineProblem {
  /** 1-based line number within the connection or request body. */
  line: number;
  code: LineProblemCode;
  error: string;
}

export interface ParsedLines {
  inputs: RecordInput[];
  /** Custom events, in input order. */
  events: EventInput[];
  problems: LineProblem[];
}

/** An empty result to parse into. */
export function emptyParsed(): ParsedLines {
  return { inputs: [], events: [], problems: [] };
}

/** A complete line cut from the stream, or the number of a line that was cut off for being too long. */
export type SplitLine = { no: number; text: string } | { no: number; tooLong: true };

/** Cuts a byte stream into numbered lines (`\n` or `\r\n`), bounding memory per line at `maxLineBytes`. */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private discarding = false;
  private lineNo = 0;

  /** Default MAX_LINE_BYTES (counted in UTF-16 units here, which never exceed the UTF-8 bytes). */
  constructor(private readonly maxLineBytes = MAX_LINE_BYTES) {}

  /** The complete lines `chunk` finishes. */
  push(chunk: Buffer | string): SplitLine[] {
    const s = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const out: SplitLine[] = [];
    let start = 0;
    for (let nl = s.indexOf('\n'); nl !== -1; nl = s.indexOf('\n', start)) {
      out.push(this.finish(s.slice(start, nl)));
      start = nl + 1;
    }
    if (!this.discarding) {
      this.partial += s.slice(start);
      if (this.partial.length > this.maxLineBytes) {
        this.discarding = true;
        this.partial = '';
      }
    }
    return out;
  }

  /** The last line when the stream ends without a newline. */
  end(): SplitLine[] {
    const tail = this.decoder.end();
    if (tail) this.push(tail);
    if (!this.discarding && this.partial === '') return [];
    return [this.finish('')];
  }

  private finish(piece: string): SplitLine {
    this.lineNo += 1;
    if (this.discarding) {
      this.discarding = false;
      this.partial = '';
      return { no: this.lineNo, tooLong: true };
    }
    let text = this.partial === '' ? piece : this.partial + piece;
    this.partial = '';
    if (text.endsWith('\r')) text = text.slice(0, -1);
    return { no: this.lineNo, text };
  }
}

/** Parses split lines into record inputs and problems; blank lines are skipped. */
export function parseLines(lines: readonly SplitLine[], maxLineBytes = MAX_LINE_BYTES): ParsedLines {
  const out = emptyParsed();
  for (const l of lines) {
    if ('tooLong' in l) {
      out.problems.push(tooLong(l.no, maxLineBytes));
      continue;
    }
    parseLine(l.text, l.no, out, maxLineBytes);
  }
  return out;
}

/** Parses one line into `out`: an object is one record, an array one record per item. */
export function parseLine(text: string, line: number, out: ParsedLines, maxLineBytes = MAX_LINE_BYTES): void {
  if (text.trim() === '') return;
  const bytes = Buffer.byteLength(text);
  if (bytes > maxLineBytes) {
    out.problems.push(tooLong(line, maxLineBytes));
    return;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    out.problems.push({ line, code: 'bad_json', error: `not valid JSON: ${(err as Error).message}` });
    return;
  }
  if (!Array.isArray(value)) {
    pushInput(value, line, '', bytes, out);
    return;
  }
  const each = Math.ceil(bytes / Math.max(1, value.length));
  value.forEach((item, i) => {
    pushInput(item, line, `item ${i}: `, each, out);
  });
}

/**
 * Parses a whole request body that is one JSON array (it may span lines): each item is a record of line 1.
 * Returns false, parsing nothing, when the body is not a JSON array, so the caller reads it as lines.
 */
export function parseArrayBody(body: string, out: ParsedLines, maxLineBytes = MAX_LINE_BYTES): boolean {
  if (!body.trimStart().startsWith('[')) return false;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return false;
  }
  if (!Array.isArray(value)) return false;
  value.forEach((item, i) => {
    // Items are measured one by one: a big body may hide one item too large for a data frame.
    const bytes = Buffer.byteLength(JSON.stringify(item) ?? '');
    if (bytes > maxLineBytes) {
      out.problems.push({
        line: 1,
        code: 'line_too_long',
        error: `item ${i}: longer than ${maxLineBytes} bytes`,
      });
      return;
    }
    pushInput(item, 1, `item ${i}: `, bytes, out);
  });
  return true;
}

function pushInput(value: unknown, line: number, where: string, bytes: number, out: ParsedLines): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
    out.problems.push({ line, code: 'not_object', error: `${where}expected a JSON object, got ${got}` });
    return;
  }
  const { channel, ...fields } = value as Record<string, unknown>;
  if (channel === undefined && 'event' in fields) {
    const { event, ...eventFields } = fields;
    const problem = customEventProblem(event);
    if (problem) out.problems.push({ line, code: 'bad_event', error: `${where}${problem}` });
    else out.events.push({ type: event as string, fields: eventFields });
    return;
  }
  if (typeof channel !== 'string' || channel === '') {
    const got = channel === undefined ? 'none' : JSON.stringify(channel);
    out.problems.push({
      line,
      code: 'no_channel',
      error: `${where}"channel" must be a non-empty string (got ${got})`,
    });
    return;
  }
  out.inputs.push({ channel, fields, bytes });
}

function tooLong(line: number, maxLineBytes: number): LineProblem {
  return { line, code: 'line_too_long', error: `line longer than ${maxLineBytes} bytes` };
}
