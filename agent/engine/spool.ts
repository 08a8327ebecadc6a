/**
 * The agent's durable outbox: every message it owes the controller (reports, exec results, events, data)
 * until the controller acks it. A segment log: messages are appended to `seg-<seq>.log` files (rolled at
 * SEGMENT_MAX_BYTES), acks to `acks.log`; a segment whose records are all acked is deleted. Appends are
 * group-committed (one write + fdatasync per batch); acks are group-committed writes with no fdatasync.
 * Only an index (sequence, id, offset) stays in memory; `pending` reads the bodies back from disk, so a
 * long outage costs disk, not heap. The text of a message appended but not yet handed to the sender (up to
 * FRESH_TEXT_MAX_CHARS characters in all) is kept too, so the sender, which asks for it right after the
 * append, gets it without a read back.
 */
import { readSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { SpooledMessage } from '../../src/protocol/messages.js';
import { type Logger, silentLogger } from './deps.js';
import { SpoolClosedError, SpoolWriteError } from './errors.js';
import { fsyncDir } from './fs-util.js';
import { GroupCommitter } from './group-commit.js';
import { fdatasyncFd } from './local-fs.js';
import { ensurePrivateDir } from './private-fs.js';
import { AppendLog, encodeJsonRecord, frameIsValid, RECORD_HEADER_BYTES } from './record-log.js';
import { isSegmentRecord, listSegments, loadSegment, type Segment } from './spool-segment.js';

/** A segment is rolled once it holds this many bytes. */
export const SEGMENT_MAX_BYTES = 8 * 1024 * 1024;
/** The ack log is rewritten (dropping acks of deleted segments) once it exceeds this. */
export const ACK_LOG_REWRITE_MIN_BYTES = 1024 * 1024;
/** Records closer than this in a segment are fetched with one read. */
const READ_MERGE_GAP_BYTES = 64 * 1024;
const ACK_LOG_NAME = 'acks.log';
/** Message text kept in memory after its append, for the sender, at most this much (UTF-16 units). */
export const FRESH_TEXT_MAX_CHARS = 4 * 1024 * 1024;

interface Entry {
  seq: number;
  id: string;
  seg: Segment;
  offset: number;
  length: number;
  /** The message's JSON text, from its append until the sender reads it (within FRESH_TEXT_MAX_CHARS). */
  text?: string;
}

export interface SpoolEntry {
  seq: number;
  message: SpooledMessage;
}

/** A pending message as the text `JSON.stringify(message)` gave when it was spooled: a frame as it stands. */
export interface EncodedSpoolEntry {
  seq: number;
  id: string;
  json: string;
}

export interface SpoolOptions {
  /** Default SEGMENT_MAX_BYTES. */
  segmentMaxBytes?: number;
  logger?: Logger;
}

export interface SpoolStats {
  segments: number;
  /** Group-commit batches written to segments (one fdatasync each). */
  appendFlushes: number;
  ackFlushes: number;
}

export class Spool {
  /** Pending records by sequence; a Map iterates in insertion (= append) order. */
  private readonly entries = new Map<number, Entry>();
  /** Message id -> sequence (an array only when an id was appended more than once). */
  private readonly byId = new Map<string, number | number[]>();
  private readonly appender: GroupCommitter<SpooledMessage, number>;
  private pendingBytes = 0;
  /** UTF-16 units of message text held by fresh entries (bounded by FRESH_TEXT_MAX_CHARS). */
  private freshChars = 0;
  private lock: Promise<unknown> = Promise.resolve();
  private state: 'open' | 'closed' | 'broken' = 'open';

  private constructor(
    readonly dir: string,
    private readonly segments: Segment[],
    private readonly acks: AppendLog,
    private high: number,
    private readonly segmentMaxBytes: number,
    private readonly logger: Logger,
  ) {
    this.appender = new GroupCommitter((msgs) => this.flushAppends(msgs));
  }

  /** Opens (creating) the spool in `dir`, dropping any torn last record and applying the ack log. */
  static async open(dir: string, options: SpoolOptions = {}): Promise<Spool> {
    const logger = options.logger ?? silentLogger;
    await ensurePrivateDir(dir);
    // Acks are written, not synced: an agent killed keeps them (page cache); a power loss may drop the last
    // ones, and their messages are sent again, as when an ack frame is lost on the wire (at-least-once,
    // records carry ids for that). Each ack batch no longer waits on an fdatasync.
    const { log: acks, values } = await AppendLog.open(`${dir}/${ACK_LOG_NAME}`, { durable: false });
    const acked = new Set<number>();
    for (const v of values) if (Array.isArray(v)) for (const s of v) if (typeof s === 'number') acked.add(s);
    const firsts = await listSegments(dir);
    const segments: Segment[] = [];
    const loaded: Entry[] = [];
    for (const [i, first] of firsts.entries()) {
      const { segment, records } = await loadSegment(dir, first, i === firsts.length - 1, logger);
      segments.push(segment);
      for (const r of records) {
        if (!acked.has(r.seq))
          loaded.push({ seq: r.seq, id: r.id, seg: segment, offset: r.offset, length: r.length });
      }
    }
    const last = segments.at(-1);
    const high = last ? last.lastSeq : 0;
    const spool = new Spool(dir, segments, acks, high, options.segmentMaxBytes ?? SEGMENT_MAX_BYTES, logger);
    if (!last) await spool.createSegment(high + 1);
    for (const e of loaded) spool.index(e);
    await spool.compact();
    return spool;
  }

  /** Appends `msg`; resolves with its sequence once it is on disk (group-committed with concurrent appends). */
  append(msg: SpooledMessage): Promise<number> {
    if (this.state !== 'open') return Promise.reject(new SpoolClosedError(this.dir, this.state));
    return this.appender.submit(msg);
  }

  /** Up to `limit` (default all) un-acked messages with a sequence above `afterSeq`, in append order. */
  pending(limit = Number.POSITIVE_INFINITY, afterSeq = 0): Promise<SpoolEntry[]> {
    return this.serial(() => this.readPending(limit, afterSeq));
  }

  /** As `pending`, each message as its spooled JSON text (what `JSON.stringify` of it gives), not parsed. */
  pendingEncoded(limit = Number.POSITIVE_INFINITY, afterSeq = 0): Promise<EncodedSpoolEntry[]> {
    return this.serial(() => this.readEncoded(limit, afterSeq));
  }

  /** Durably forgets the messages with these ids; resolves with how many were pending. Unknown ids are ignored. */
  async ack(ids: readonly string[]): Promise<number> {
    if (this.state === 'closed') throw new SpoolClosedError(this.dir);
    const seqs = ids.flatMap((id) => this.byId.get(id) ?? []);
    if (seqs.length === 0) return 0;
    await this.acks.append(seqs);
    let removed = 0;
    for (const seq of seqs) {
      const e = this.entries.get(seq);
      if (!e) continue;
      this.entries.delete(seq);
      this.dropText(e);
      this.unindexId(e.id, seq);
      e.seg.live -= 1;
      this.pendingBytes -= e.length;
      removed += 1;
    }
    if (this.segments.some((s) => s.live === 0 && s !== this.active)) await this.serial(() => this.compact());
    return removed;
  }

  /** Number of un-acked messages. */
  size(): number {
    return this.entries.size;
  }

  /** Bytes the un-acked messages take in segment files. */
  bytes(): number {
    return this.pendingBytes;
  }

  /** The last sequence written (0 for a new spool); never goes back, also across restarts. */
  highWater(): number {
    return this.high;
  }

  /** Counters for tests and metrics. */
  stats(): SpoolStats {
    return {
      segments: this.segments.length,
      appendFlushes: this.appender.flushes,
      ackFlushes: this.acks.flushes,
    };
  }

  /** Waits for in-flight appends and acks, then closes every file. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    await this.appender.idle();
    await this.serial(async () => {
      await this.acks.close();
      for (const s of this.segments) await s.fh.close();
    });
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1] as Segment;
  }

  private index(e: Entry): void {
    this.entries.set(e.seq, e);
    const known = this.byId.get(e.id);
    if (known === undefined) this.byId.set(e.id, e.seq);
    else this.byId.set(e.id, [...(typeof known === 'number' ? [known] : known), e.seq]);
    e.seg.live += 1;
    this.pendingBytes += e.length;
  }

  private unindexId(id: string, seq: number): void {
    const known = this.byId.get(id);
    if (known === undefined || known === seq) {
      this.byId.delete(id);
      return;
    }
    if (typeof known === 'number') return;
    const rest = known.filter((s) => s !== seq);
    if (rest.length === 0) this.byId.delete(id);
    else this.byId.set(id, rest.length === 1 ? (rest[0] as number) : rest);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async flushAppends(msgs: SpooledMessage[]): Promise<number[]> {
    if (this.state === 'broken') throw new SpoolClosedError(this.dir, 'broken');
    if (this.active.size >= this.segmentMaxBytes) {
      await this.createSegment(this.high + 1);
      this.serial(() => this.compact()).catch((err: unknown) => {
        this.logger.warn('spool: compaction failed', { err: String(err) });
      });
    }
    const seg = this.active;
    const entries: Entry[] = [];
    const bufs: Buffer[] = [];
    let offset = seg.size;
    let seq = this.high;
    let fresh = this.freshChars;
    for (const m of msgs) {
      seq += 1;
      const text = JSON.stringify(m);
      // The segment record `{"s":<seq>,"i":<id>,"m":<message>}`, as JSON.stringify(segmentRecord(seq, m)).
      const buf = encodeJsonRecord(`{"s":${seq},"i":${JSON.stringify(m.id)},"m":${text}}`);
      const entry: Entry = { seq, id: m.id, seg, offset, length: buf.length };
      if (fresh + text.length <= FRESH_TEXT_MAX_CHARS) {
        entry.text = text;
        fresh += text.length;
      }
      entries.push(entry);
      bufs.push(buf);
      offset += buf.length;
    }
    const data = Buffer.concat(bufs);
    try {
      writeFileSync(seg.fh.fd, data); // appends: the segment is open O_APPEND
      await fdatasyncFd(seg.fh.fd, this.dir);
    } catch (err) {
      // A partial write must not stay in front of later records: cut it off, or stop accepting appends.
      await seg.fh.truncate(seg.size).catch(() => {
        this.state = 'broken';
      });
      throw new SpoolWriteError(seg.file, err);
    }
    seg.size = offset;
    seg.lastSeq = seq;
    this.high = seq;
    this.freshChars = fresh;
    for (const e of entries) this.index(e);
    return entries.map((e) => e.seq);
  }

  private async createSegment(firstSeq: number): Promise<void> {
    const { segment } = await loadSegment(this.dir, firstSeq, true, this.logger);
    await fsyncDir(this.dir);
    this.segments.push(segment);
  }

  /** Deletes fully acked segments (never the active one), then shrinks the ack log when it is large. */
  private async compact(): Promise<void> {
    const dead = this.segments.filter((s) => s.live === 0 && s !== this.active);
    if (dead.length === 0) return;
    for (const s of dead) {
      await s.fh.close();
      await rm(s.file, { force: true });
      this.segments.splice(this.segments.indexOf(s), 1);
    }
    // The unlinks must be durable before their acks disappear, or a crash could resurrect acked records.
    await fsyncDir(this.dir);
    if (this.acks.bytes >= ACK_LOG_REWRITE_MIN_BYTES) await this.acks.rewrite([this.ackedInLiveSegments()]);
  }

  private ackedInLiveSegments(): number[] {
    const acked: number[] = [];
    for (const s of this.segments) {
      for (let seq = s.firstSeq; seq <= s.lastSeq; seq++) if (!this.entries.has(seq)) acked.push(seq);
    }
    return acked;
  }

  private async readPending(limit: number, afterSeq: number): Promise<SpoolEntry[]> {
    const out: SpoolEntry[] = [];
    await this.readPicked(limit, afterSeq, (e, json) => {
      const value: unknown = JSON.parse(json);
      if (isSegmentRecord(value)) out.push({ seq: e.seq, message: value.m });
    });
    return out;
  }

  /**
   * Cuts each message's text out of its segment record (`{"s":<seq>,"i":<id>,"m":<message>}`) without
   * parsing it: the sender would only turn the parsed message back into the same text. A record whose
   * checksum or shape does not match is skipped, as `pending` skips one that does not parse.
   */
  private async readEncoded(limit: number, afterSeq: number): Promise<EncodedSpoolEntry[]> {
    const picked = this.pick(limit, afterSeq);
    // The usual case: the sender asks for what was just appended, still held as text.
    const fresh = picked.every((e) => e.text !== undefined);
    const out: EncodedSpoolEntry[] = fresh
      ? picked.map((e) => ({ seq: e.seq, id: e.id, json: e.text as string }))
      : [];
    // Handed to the sender (or about to be read from disk): a re-send reads the segment, as after a restart.
    for (const e of picked) this.dropText(e);
    if (fresh) return out;
    await this.readPicked(limit, afterSeq, (e, json, crcOk) => {
      const prefix = `{"s":${e.seq},"i":${JSON.stringify(e.id)},"m":`;
      if (crcOk && json.startsWith(prefix) && json.endsWith('}')) {
        out.push({ seq: e.seq, id: e.id, json: json.slice(prefix.length, -1) });
      } else {
        this.logger.warn('spool: unreadable record skipped', { dir: this.dir, seq: e.seq });
      }
    });
    return out;
  }

  /** Forgets an entry's fresh text (its record on disk stays the truth). */
  private dropText(e: Entry): void {
    if (e.text === undefined) return;
    this.freshChars -= e.text.length;
    e.text = undefined;
  }

  /** Up to `limit` pending entries after `afterSeq`, in order. */
  private pick(limit: number, afterSeq: number): Entry[] {
    const picked: Entry[] = [];
    for (const e of this.entries.values()) {
      if (picked.length >= limit) break;
      if (e.seq > afterSeq) picked.push(e);
    }
    return picked;
  }

  /** Reads the records of up to `limit` pending entries after `afterSeq`, merging nearby reads. */
  private async readPicked(
    limit: number,
    afterSeq: number,
    each: (e: Entry, json: string, crcOk: boolean) => void,
  ): Promise<void> {
    const picked = this.pick(limit, afterSeq);
    let i = 0;
    while (i < picked.length) {
      const first = picked[i] as Entry;
      let j = i + 1;
      let end = first.offset + first.length;
      for (; j < picked.length; j++) {
        const e = picked[j] as Entry;
        if (e.seg !== first.seg || e.offset < end || e.offset - end > READ_MERGE_GAP_BYTES) break;
        end = e.offset + e.length;
      }
      const buf = Buffer.alloc(end - first.offset);
      readFully(first.seg.fh.fd, buf, first.offset);
      for (const e of picked.slice(i, j)) {
        const start = e.offset - first.offset;
        const json = buf.toString('utf8', start + RECORD_HEADER_BYTES, start + e.length - 1);
        each(e, json, frameIsValid(buf, start, start + e.length - 1));
      }
      i = j;
    }
  }
}

/** Fills `buf` from `fd` at `position` (a short read only at the end of the file would leave zeros). */
function readFully(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
}
