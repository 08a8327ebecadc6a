/** Segment files of the spool: naming, listing and loading (`seg-<first sequence>.log`, framed records). */
import { type FileHandle, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SpooledMessage } from '../../src/protocol/messages.js';
import type { Logger } from './deps.js';
import { openPrivate } from './private-fs.js';
import { type Frame, frameJson, RECORD_HEADER_BYTES, readAndRepair } from './record-log.js';

const SEGMENT_PREFIX = 'seg-';
const SEGMENT_SUFFIX = '.log';
const SEQ_DIGITS = 16;
const SPOOLED_TYPES: ReadonlySet<string> = new Set(['report', 'execResult', 'event', 'data']);

/** One segment file; sequences in it are contiguous, `firstSeq..lastSeq`. */
export interface Segment {
  firstSeq: number;
  lastSeq: number;
  file: string;
  fh: FileHandle;
  size: number;
  /** Records in it not yet acked. */
  live: number;
}

/** A record as stored in a segment: `{s: sequence, i: message id, m: message}` (keys in this order). */
export interface SegmentRecord {
  s: number;
  i: string;
  m: SpooledMessage;
}

/** The stored form of message `m` with sequence `s`. */
export function segmentRecord(s: number, m: SpooledMessage): SegmentRecord {
  return { s, i: m.id, m };
}

const SEQ_PREFIX = Buffer.from('{"s":');
const ID_PREFIX = Buffer.from(',"i":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export interface LoadedRecord {
  seq: number;
  id: string;
  offset: number;
  length: number;
}

/** The file name of the segment whose first sequence is `firstSeq`. */
export function segmentFile(dir: string, firstSeq: number): string {
  return join(dir, `${SEGMENT_PREFIX}${String(firstSeq).padStart(SEQ_DIGITS, '0')}${SEGMENT_SUFFIX}`);
}

/** First sequences of the segments in `dir`, ascending. */
export async function listSegments(dir: string): Promise<number[]> {
  const names = await readdir(dir);
  return names
    .filter((n) => n.startsWith(SEGMENT_PREFIX) && n.endsWith(SEGMENT_SUFFIX))
    .map((n) => Number(n.slice(SEGMENT_PREFIX.length, -SEGMENT_SUFFIX.length)))
    .filter((n) => Number.isSafeInteger(n) && n > 0)
    .sort((a, b) => a - b);
}

/** True when a checksummed value has the shape the spool writes. */
export function isSegmentRecord(v: unknown): v is SegmentRecord {
  if (typeof v !== 'object' || v === null) return false;
  const { s, i, m } = v as { s?: unknown; i?: unknown; m?: unknown };
  if (typeof s !== 'number' || !Number.isSafeInteger(s) || typeof i !== 'string') return false;
  if (typeof m !== 'object' || m === null) return false;
  const { id, type } = m as { id?: unknown; type?: unknown };
  return typeof id === 'string' && typeof type === 'string' && SPOOLED_TYPES.has(type);
}

/**
 * Sequence and id of a stored record, read from its first bytes (`{"s":12,"i":"id",...`) without parsing the
 * message, which is what makes reopening a large backlog fast; any other shape falls back to a full parse.
 */
function readHead(buf: Buffer, f: Frame): { seq: number; id: string } | undefined {
  const start = f.offset + RECORD_HEADER_BYTES;
  const end = f.offset + f.length - 1;
  if (buf.compare(SEQ_PREFIX, 0, SEQ_PREFIX.length, start, start + SEQ_PREFIX.length) === 0) {
    let pos = start + SEQ_PREFIX.length;
    let seq = 0;
    while (pos < end && (buf[pos] as number) >= 0x30 && (buf[pos] as number) <= 0x39) {
      seq = seq * 10 + (buf[pos] as number) - 0x30;
      pos += 1;
    }
    if (buf.compare(ID_PREFIX, 0, ID_PREFIX.length, pos, pos + ID_PREFIX.length) === 0) {
      const idStart = pos + ID_PREFIX.length;
      const idEnd = buf.indexOf(QUOTE, idStart);
      if (idEnd > idStart && idEnd < end && noEscape(buf, idStart, idEnd)) {
        return { seq, id: buf.toString('utf8', idStart, idEnd) };
      }
    }
  }
  try {
    const v = frameJson(buf, f);
    return isSegmentRecord(v) ? { seq: v.s, id: v.i } : undefined;
  } catch {
    return undefined;
  }
}

function noEscape(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] === BACKSLASH) return false;
  return true;
}

/** Loads a segment (dropping a torn tail) and opens it: for appends too when `active`. */
export async function loadSegment(
  dir: string,
  firstSeq: number,
  active: boolean,
  logger: Logger,
): Promise<{ segment: Segment; records: LoadedRecord[] }> {
  const file = segmentFile(dir, firstSeq);
  const scan = await readAndRepair(file);
  const records: LoadedRecord[] = [];
  let lastSeq = firstSeq - 1;
  for (const f of scan.records) {
    const head = readHead(scan.buf, f);
    if (!head || head.seq <= lastSeq) {
      logger.warn('spool: skipping a malformed record', { file, offset: f.offset });
      continue;
    }
    lastSeq = head.seq;
    records.push({ seq: head.seq, id: head.id, offset: f.offset, length: f.length });
  }
  const fh = active ? await openPrivate(file, 'a+') : await open(file, 'r');
  return { segment: { firstSeq, lastSeq, file, fh, size: scan.size, live: 0 }, records };
}
