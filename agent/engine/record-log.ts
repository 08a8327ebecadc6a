/**
 * Checksummed JSON-lines files: each record is `<crc32 hex, 8 chars> <json>\n`. A scan stops at the first
 * record that is incomplete or fails its checksum, so a write torn by a crash is dropped, never misread.
 * `AppendLog` is such a file opened for group-committed appends, durable (fdatasync) unless asked otherwise.
 */
import { writeFileSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { hasErrno, LogClosedError } from './errors.js';
import { fsyncDir, writeFileAtomic } from './fs-util.js';
import { GroupCommitter } from './group-commit.js';
import { fdatasyncFd } from './local-fs.js';
import { makePrivateDir, openPrivate } from './private-fs.js';

const CRC_HEX_CHARS = 8;
/** Bytes before the JSON: the checksum and one space. */
export const RECORD_HEADER_BYTES = CRC_HEX_CHARS + 1;
const NEWLINE = 0x0a;

/** One framed record: checksum, JSON, newline. */
export function encodeRecord(value: unknown): Buffer {
  return encodeJsonRecord(JSON.stringify(value));
}

/** As `encodeRecord`, for a value already turned into its JSON text. */
export function encodeJsonRecord(json: string): Buffer {
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + jsonBytes + 1);
  out.write(json, RECORD_HEADER_BYTES, 'utf8');
  const crc = crc32(out.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + jsonBytes));
  out.write(`${crc.toString(16).padStart(CRC_HEX_CHARS, '0')} `, 0, 'latin1');
  out[out.length - 1] = NEWLINE;
  return out;
}

export interface Frame {
  /** Byte offset of the record in the scanned buffer. */
  offset: number;
  /** Byte length including header and newline. */
  length: number;
}

export interface ScannedRecord extends Frame {
  value: unknown;
}

export interface ScanResult<T> {
  records: T[];
  /** Bytes from the start that hold whole, valid records; the rest is a torn or corrupt tail. */
  validBytes: number;
}

/** Finds the checksummed frames at the start of `buf` without parsing their JSON; stops at the first bad one. */
export function scanFrames(buf: Buffer): ScanResult<Frame> {
  const records: Frame[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const end = buf.indexOf(NEWLINE, pos);
    if (end < 0 || end - pos <= RECORD_HEADER_BYTES || !frameIsValid(buf, pos, end)) break;
    records.push({ offset: pos, length: end + 1 - pos });
    pos = end + 1;
  }
  return { records, validBytes: pos };
}

/** Parses framed records from the start of `buf`, stopping at the first bad one. */
export function scanRecords(buf: Buffer): ScanResult<ScannedRecord> {
  const frames = scanFrames(buf);
  const records: ScannedRecord[] = [];
  for (const f of frames.records) {
    try {
      records.push({ ...f, value: frameJson(buf, f) });
    } catch {
      return { records, validBytes: f.offset };
    }
  }
  return { records, validBytes: frames.validBytes };
}

/** The parsed JSON of a frame. */
export function frameJson(buf: Buffer, f: Frame): unknown {
  return JSON.parse(buf.toString('utf8', f.offset + RECORD_HEADER_BYTES, f.offset + f.length - 1));
}

/** True when the record in `buf` from `start` to `end` (its newline) has a header and a matching checksum. */
export function frameIsValid(buf: Buffer, start: number, end: number): boolean {
  if (buf[start + CRC_HEX_CHARS] !== 0x20) return false;
  const crc = Number.parseInt(buf.toString('latin1', start, start + CRC_HEX_CHARS), 16);
  return crc === crc32(buf.subarray(start + RECORD_HEADER_BYTES, end));
}

/** Reads a record file whole (empty when absent) and truncates a torn tail so appends follow valid data. */
export async function readAndRepair(
  file: string,
): Promise<ScanResult<Frame> & { size: number; buf: Buffer }> {
  let buf: Buffer;
  try {
    const fh = await open(file, 'r');
    try {
      buf = await fh.readFile();
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return { records: [], validBytes: 0, size: 0, buf: Buffer.alloc(0) };
    throw err;
  }
  const scan = scanFrames(buf);
  if (scan.validBytes < buf.length) {
    const fh = await open(file, 'r+');
    try {
      await fh.truncate(scan.validBytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  return { ...scan, size: scan.validBytes, buf };
}

export interface AppendLogOptions {
  /**
   * Default true: an append resolves once fdatasync returned. False: once write(2) returned, so the record
   * survives the agent being killed (it is in the page cache) but not a power loss. For records whose loss
   * only repeats work the protocol already allows to repeat (the spool's acks: a message whose ack is lost
   * is sent again, as when the ack frame itself is lost on the way).
   */
  durable?: boolean;
}

/** An append-only record file with group-committed appends. */
export class AppendLog {
  private readonly committer: GroupCommitter<Buffer, undefined>;
  private closed = false;

  private constructor(
    readonly file: string,
    private fh: FileHandle,
    private size: number,
    private readonly durable: boolean,
  ) {
    this.committer = new GroupCommitter((bufs) => this.flush(bufs));
  }

  /** Opens (creating) `file`; returns the log and the values of its valid records. */
  static async open(
    file: string,
    options: AppendLogOptions = {},
  ): Promise<{ log: AppendLog; values: unknown[] }> {
    await makePrivateDir(dirname(file));
    const scan = await readAndRepair(file);
    const fh = await openPrivate(file, 'a');
    if (scan.size === 0) await fsyncDir(dirname(file));
    const values: unknown[] = [];
    for (const f of scan.records) {
      try {
        values.push(frameJson(scan.buf, f));
      } catch {
        // A frame whose checksum matches but whose JSON does not parse cannot come from a torn write: skip it.
      }
    }
    return { log: new AppendLog(file, fh, scan.size, options.durable ?? true), values };
  }

  /** Bytes of valid records in the file. */
  get bytes(): number {
    return this.size;
  }

  /** Batches flushed so far (one write, and one fdatasync when durable, each). */
  get flushes(): number {
    return this.committer.flushes;
  }

  /** Appends one record; resolves once it is on disk (fdatasync), or written when the log is not durable. */
  append(value: unknown): Promise<void> {
    if (this.closed) return Promise.reject(new LogClosedError(this.file));
    return this.committer.submit(encodeRecord(value));
  }

  /** Replaces the whole file with `values` atomically (compaction). */
  async rewrite(values: unknown[]): Promise<void> {
    await this.committer.idle();
    const data = Buffer.concat(values.map((v) => encodeRecord(v)));
    await this.fh.close();
    await writeFileAtomic(this.file, data, 0o600);
    this.fh = await openPrivate(this.file, 'a');
    this.size = data.length;
  }

  /** Waits for pending appends and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.committer.idle();
    await this.fh.close();
  }

  private async flush(bufs: Buffer[]): Promise<undefined[]> {
    const data = Buffer.concat(bufs);
    try {
      writeFileSync(this.fh.fd, data); // appends: the log is open O_APPEND
      if (this.durable) await fdatasyncFd(this.fh.fd, dirname(this.file));
    } catch (err) {
      // Cut a partial write off so later records do not follow garbage.
      await this.fh.truncate(this.size).catch(() => undefined);
      throw err;
    }
    this.size += data.length;
    return bufs.map(() => undefined);
  }
}
