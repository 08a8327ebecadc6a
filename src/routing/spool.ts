/**
 * A per-target on-disk spool: append-only segment files of CRC'd frames (spool-frame.ts), fsync'd on every
 * append, and a read cursor persisted on every commit, so it survives a restart. A torn tail (a crash in the
 * middle of an append) is cut off at open. Fully consumed segments are deleted.
 *
 * Delivery is at-least-once: a crash between a target write and `commit` re-delivers that batch.
 * `maxBytes` bounds the pending bytes: `append` is refused once `isFull()`, so the spool passes the limit
 * by at most one append (callers wait on `isFull()` first: that is the back-pressure).
 */
import { type FileHandle, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SpoolFullError, SpoolIoError } from './errors.js';
import {
  type Cursor,
  openSpoolFile,
  recoverSpool,
  type Segment,
  segmentName,
  syncDir,
  writeCursor,
} from './spool-files.js';
import { decodeFrame, encodeFrames, type SpoolEntry } from './spool-frame.js';
import { Mutex } from './sync.js';
import { type Clock, errorMessage, type Logger, type OutRecord, silentLogger, systemClock } from './types.js';

export type { SpoolEntry };

/** A new segment is started once the current one reaches this size. */
export const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024;
/** Reads of spooled frames go in chunks of at least this size. */
const READ_CHUNK_BYTES = 256 * 1024;

export interface SpoolOptions {
  /** Pending bytes (frames not yet committed) at which the spool is full. */
  maxBytes: number;
  /** Segment size; default DEFAULT_SEGMENT_BYTES. */
  segmentBytes?: number;
  clock?: Clock;
  logger?: Logger;
}

interface Peeked {
  entry: SpoolEntry;
  seq: number;
  end: number;
  bytes: number;
}

export class Spool {
  private readonly lock = new Mutex();
  private pendingRecords = 0;
  private pendingBytes = 0;
  private headAt: number | undefined;
  private peeked: Peeked[] = [];
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly maxBytes: number,
    private readonly segmentBytes: number,
    private readonly clock: Clock,
    private segments: Segment[],
    private cursor: Cursor,
    private writeFh: FileHandle,
  ) {}

  /** Opens (or creates) the spool in `dir`: reads the cursor, scans pending frames and cuts a torn tail. */
  static async create(dir: string, opts: SpoolOptions): Promise<Spool> {
    const logger = opts.logger ?? silentLogger;
    try {
      const rec = await recoverSpool(dir, logger);
      const last = rec.segments[rec.segments.length - 1] as Segment;
      const writeFh = await openSpoolFile(join(dir, segmentName(last.seq)), 'a');
      const spool = new Spool(
        dir,
        opts.maxBytes,
        opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
        opts.clock ?? systemClock,
        rec.segments,
        rec.cursor,
        writeFh,
      );
      spool.pendingRecords = rec.pendingRecords;
      spool.pendingBytes = rec.pendingBytes;
      spool.headAt = rec.headAt;
      return spool;
    } catch (err) {
      throw new SpoolIoError(dir, `open failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Records appended and not yet committed. */
  depth(): number {
    return this.pendingRecords;
  }

  /** Bytes of frames appended and not yet committed. */
  bytes(): number {
    return this.pendingBytes;
  }

  /** True once the pending bytes reach `maxBytes`. */
  isFull(): boolean {
    return this.pendingBytes >= this.maxBytes;
  }

  /** When the oldest pending record was appended (ms), undefined when empty. */
  oldestAt(): number | undefined {
    return this.pendingRecords > 0 ? this.headAt : undefined;
  }

  /** Appends records and fsyncs; resolves once they are durable. Throws SpoolFullError when full. */
  append(records: readonly OutRecord[]): Promise<void> {
    return this.lock.run(async () => {
      this.assertOpen();
      if (records.length === 0) return;
      if (this.isFull()) throw new SpoolFullError(this.dir, this.pendingBytes, this.maxBytes);
      if (this.writeSegment().size >= this.segmentBytes) await this.rotate();
      const at = this.clock();
      const buf = encodeFrames(records, at);
      const seg = this.writeSegment();
      try {
        let off = 0;
        while (off < buf.length) off += (await this.writeFh.write(buf, off, buf.length - off)).bytesWritten;
        await this.writeFh.datasync();
      } catch (err) {
        // Leave no partial frame behind: the next append must start on a frame boundary.
        await this.writeFh.truncate(seg.size).catch(() => {});
        throw new SpoolIoError(this.dir, `append failed: ${errorMessage(err)}`, { cause: err });
      }
      seg.size += buf.length;
      if (this.pendingRecords === 0) this.headAt = at;
      this.pendingRecords += records.length;
      this.pendingBytes += buf.length;
    });
  }

  /** The first `n` pending entries in append order (fewer when fewer are pending); nothing is consumed. */
  peek(n: number): Promise<SpoolEntry[]> {
    return this.lock.run(async () => {
      this.assertOpen();
      const out: Peeked[] = [];
      for (const seg of this.segments) {
        if (out.length >= n) break;
        if (seg.seq < this.cursor.seq) continue;
        const start = seg.seq === this.cursor.seq ? this.cursor.offset : 0;
        await this.readFrames(seg, start, n - out.length, out);
      }
      this.peeked = out;
      return out.map((p) => p.entry);
    });
  }

  /** Consumes the first `n` entries of the last `peek` and persists the cursor. */
  commit(n: number): Promise<void> {
    return this.lock.run(async () => {
      this.assertOpen();
      if (n <= 0) return;
      if (n > this.peeked.length) {
        throw new SpoolIoError(
          this.dir,
          `commit of ${n} entries, but only ${this.peeked.length} were peeked`,
        );
      }
      const done = this.peeked.slice(0, n);
      this.peeked = this.peeked.slice(n);
      const last = done[done.length - 1] as Peeked;
      this.cursor = { seq: last.seq, offset: last.end };
      this.pendingRecords -= n;
      for (const p of done) this.pendingBytes -= p.bytes;
      this.advancePastFinishedSegments();
      await this.persistCursor();
      await this.deleteConsumedSegments();
      this.headAt = this.peeked[0]?.entry.at;
      if (this.pendingRecords > 0 && this.headAt === undefined) {
        const next: Peeked[] = [];
        for (const seg of this.segments) {
          if (next.length > 0) break;
          await this.readFrames(seg, seg.seq === this.cursor.seq ? this.cursor.offset : 0, 1, next);
        }
        this.headAt = next[0]?.entry.at;
      }
    });
  }

  /** Closes the write handle; the spool's files stay for the next `create`. */
  close(): Promise<void> {
    return this.lock.run(async () => {
      if (this.closed) return;
      this.closed = true;
      await this.writeFh.close();
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new SpoolIoError(this.dir, 'closed');
  }

  private writeSegment(): Segment {
    return this.segments[this.segments.length - 1] as Segment;
  }

  private async rotate(): Promise<void> {
    const seq = this.writeSegment().seq + 1;
    await this.writeFh.close();
    this.writeFh = await openSpoolFile(join(this.dir, segmentName(seq)), 'a');
    this.segments.push({ seq, size: 0 });
    await syncDir(this.dir);
    if (this.advancePastFinishedSegments()) {
      await this.persistCursor();
      await this.deleteConsumedSegments();
    }
  }

  /** Moves the cursor off segments it has read to the end, when a later segment exists. */
  private advancePastFinishedSegments(): boolean {
    let moved = false;
    for (let i = 0; i < this.segments.length - 1; i++) {
      const seg = this.segments[i] as Segment;
      if (seg.seq !== this.cursor.seq || this.cursor.offset < seg.size) continue;
      this.cursor = { seq: (this.segments[i + 1] as Segment).seq, offset: 0 };
      moved = true;
    }
    return moved;
  }

  private async deleteConsumedSegments(): Promise<void> {
    while ((this.segments[0]?.seq ?? Number.POSITIVE_INFINITY) < this.cursor.seq) {
      const seg = this.segments.shift() as Segment;
      await rm(join(this.dir, segmentName(seg.seq)), { force: true });
    }
  }

  private persistCursor(): Promise<void> {
    return writeCursor(this.dir, this.cursor);
  }

  /** Reads up to `max` frames of `seg` from `start`, pushing them onto `out`. */
  private async readFrames(seg: Segment, start: number, max: number, out: Peeked[]): Promise<void> {
    if (start >= seg.size || max <= 0) return;
    const fh = await open(join(this.dir, segmentName(seg.seq)), 'r');
    try {
      let buf = Buffer.alloc(0);
      let bufStart = start;
      let pos = start;
      let count = 0;
      while (count < max && pos < seg.size) {
        const r = decodeFrame(buf, pos - bufStart);
        if (r.kind === 'frame') {
          pos += r.bytes;
          out.push({ entry: r.entry, seq: seg.seq, end: pos, bytes: r.bytes });
          count++;
          continue;
        }
        const len = Math.min(Math.max(READ_CHUNK_BYTES, r.kind === 'short' ? r.need : 0), seg.size - pos);
        if (r.kind === 'corrupt' || (r.kind === 'short' && len < r.need)) {
          const why = r.kind === 'corrupt' ? r.reason : 'frame runs past the segment';
          throw new SpoolIoError(this.dir, `segment ${seg.seq} at ${pos}: ${why}`);
        }
        buf = Buffer.allocUnsafe(len);
        let got = 0;
        while (got < len) {
          const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
          if (bytesRead === 0) throw new SpoolIoError(this.dir, `segment ${seg.seq} shorter than expected`);
          got += bytesRead;
        }
        bufStart = pos;
      }
    } finally {
      await fh.close();
    }
  }
}
