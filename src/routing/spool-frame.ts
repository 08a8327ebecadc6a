/**
 * The spool's on-disk frame: `u32 length | u32 crc32(payload) | payload`, big-endian, payload a JSON array
 * `[appendedAtMs, rid, data, key|null, dest|null]`. A frame whose length runs past the end of the file or whose
 * CRC does not match is a torn (or corrupt) write.
 */
import { crc32 } from 'node:zlib';
import type { OutRecord } from './types.js';

export const FRAME_HEADER_BYTES = 8;
/** A frame claiming more than this is treated as corrupt rather than read. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export interface SpoolEntry {
  rec: OutRecord;
  /** When the record was appended (ms since the epoch). */
  at: number;
}

type FramePayload = [number, string, string, string | null, string | null];

/** Encodes entries into one buffer of consecutive frames. */
export function encodeFrames(records: readonly OutRecord[], at: number): Buffer {
  const parts: Buffer[] = [];
  let total = 0;
  for (const r of records) {
    const payload: FramePayload = [at, r.rid, r.data, r.key ?? null, r.dest ?? null];
    const body = Buffer.from(JSON.stringify(payload), 'utf8');
    const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    head.writeUInt32BE(body.length, 0);
    head.writeUInt32BE(crc32(body), 4);
    parts.push(head, body);
    total += FRAME_HEADER_BYTES + body.length;
  }
  return Buffer.concat(parts, total);
}

export type FrameRead =
  | { kind: 'frame'; entry: SpoolEntry; bytes: number }
  /** Not enough bytes in `buf` for the frame at `off`: `need` is the whole frame's size. */
  | { kind: 'short'; need: number }
  | { kind: 'corrupt'; reason: string };

/** Decodes the frame at `off` in `buf`. */
export function decodeFrame(buf: Buffer, off: number): FrameRead {
  if (buf.length - off < FRAME_HEADER_BYTES) return { kind: 'short', need: FRAME_HEADER_BYTES };
  const len = buf.readUInt32BE(off);
  if (len > MAX_FRAME_BYTES) return { kind: 'corrupt', reason: `frame length ${len} too large` };
  const need = FRAME_HEADER_BYTES + len;
  if (buf.length - off < need) return { kind: 'short', need };
  const body = buf.subarray(off + FRAME_HEADER_BYTES, off + need);
  if (crc32(body) !== buf.readUInt32BE(off + 4)) return { kind: 'corrupt', reason: 'crc mismatch' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { kind: 'corrupt', reason: 'payload is not JSON' };
  }
  if (!isPayload(parsed)) return { kind: 'corrupt', reason: 'payload has the wrong shape' };
  const [at, rid, data, key, dest] = parsed;
  const rec: OutRecord = { rid, data };
  if (key !== null) rec.key = key;
  if (dest !== null) rec.dest = dest;
  return { kind: 'frame', entry: { rec, at }, bytes: need };
}

function isPayload(v: unknown): v is FramePayload {
  return (
    Array.isArray(v) &&
    v.length === 5 &&
    typeof v[0] === 'number' &&
    typeof v[1] === 'string' &&
    typeof v[2] === 'string' &&
    (v[3] === null || typeof v[3] === 'string') &&
    (v[4] === null || typeof v[4] === 'string')
  );
}
