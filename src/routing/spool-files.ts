/**
 * The spool's files: segment names, the persisted read cursor, and the recovery scan run at open (which
 * counts pending frames and cuts a torn tail off the last segment).
 */
import { chmod, type FileHandle, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeFrame } from './spool-frame.js';
import type { Logger } from './types.js';

const CURSOR_FILE = 'cursor.json';
/** A spool holds records in flight (possibly sensitive data): owner only, whatever the umask. */
const SPOOL_DIR_MODE = 0o700;
const SPOOL_FILE_MODE = 0o600;

/** Opens a spool file with `flags`, creating it 0600, and sets 0600 on it (also when it existed looser). */
export async function openSpoolFile(path: string, flags: string): Promise<FileHandle> {
  const fh = await open(path, flags, SPOOL_FILE_MODE);
  try {
    await fh.chmod(SPOOL_FILE_MODE);
  } catch (err) {
    await fh.close();
    throw err;
  }
  return fh;
}

/**
 * Creates the spool dir (and missing parents) 0700 and tightens it and its files; the parent is never
 * chmod-ed (it may be a shared directory such as /tmp in tests).
 */
async function ensurePrivateSpoolDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: SPOOL_DIR_MODE });
  await chmod(dir, SPOOL_DIR_MODE);
  // Regular files only: chmod follows symlinks.
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isFile()) await chmod(join(dir, entry.name), SPOOL_FILE_MODE).catch(() => undefined);
  }
}
const SEGMENT_RE = /^(\d{12})\.seg$/;

export interface Segment {
  seq: number;
  /** Bytes of valid frames; reads stop here. */
  size: number;
}

/** Where the next unconsumed frame starts. */
export interface Cursor {
  seq: number;
  offset: number;
}

/** What a spool directory holds after recovery. */
export interface RecoveredSpool {
  /** Sorted, never empty; the last one is the write segment. */
  segments: Segment[];
  cursor: Cursor;
  pendingRecords: number;
  pendingBytes: number;
  /** Append time of the oldest pending frame. */
  headAt: number | undefined;
}

/** The file name of segment `seq`. */
export function segmentName(seq: number): string {
  return `${String(seq).padStart(12, '0')}.seg`;
}

/** Reads the cursor and scans every pending frame; cuts a torn tail; deletes consumed segments. */
export async function recoverSpool(dir: string, logger: Logger): Promise<RecoveredSpool> {
  await ensurePrivateSpoolDir(dir);
  const seqs = (await readdir(dir))
    .map((n) => SEGMENT_RE.exec(n)?.[1])
    .filter((s): s is string => s !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  let cursor = (await readCursor(dir)) ?? { seq: seqs[0] ?? 1, offset: 0 };
  for (const seq of seqs) if (seq < cursor.seq) await rm(join(dir, segmentName(seq)), { force: true });
  const live = seqs.filter((s) => s >= cursor.seq);
  if (live[0] !== cursor.seq) cursor = { seq: live[0] ?? cursor.seq, offset: 0 };
  if (live.length === 0) live.push(cursor.seq);
  const out: RecoveredSpool = { segments: [], cursor, pendingRecords: 0, pendingBytes: 0, headAt: undefined };
  for (const [i, seq] of live.entries()) {
    const path = join(dir, segmentName(seq));
    const buf = await readFile(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return Buffer.alloc(0);
      throw err;
    });
    let off = seq === cursor.seq ? Math.min(cursor.offset, buf.length) : 0;
    if (seq === cursor.seq) cursor.offset = off;
    while (off < buf.length) {
      const r = decodeFrame(buf, off);
      if (r.kind !== 'frame') {
        const reason = r.kind === 'short' ? 'incomplete frame' : r.reason;
        if (i === live.length - 1) {
          logger.warn('spool: cutting torn tail', {
            dir,
            segment: seq,
            offset: off,
            bytes: buf.length - off,
            reason,
          });
          await truncateFile(path, off);
        } else {
          // Frames after a corrupt one in an older segment cannot be delimited: they are skipped, and logged.
          logger.error('spool: corrupt segment, skipping its rest', {
            dir,
            segment: seq,
            offset: off,
            reason,
          });
        }
        break;
      }
      out.pendingRecords++;
      out.pendingBytes += r.bytes;
      out.headAt ??= r.entry.at;
      off += r.bytes;
    }
    out.segments.push({ seq, size: off });
  }
  return out;
}

/** Persists the cursor atomically (tmp file, fsync, rename). */
export async function writeCursor(dir: string, cursor: Cursor): Promise<void> {
  const tmp = join(dir, `${CURSOR_FILE}.tmp`);
  const fh = await openSpoolFile(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(cursor));
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, CURSOR_FILE));
}

async function readCursor(dir: string): Promise<Cursor | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, CURSOR_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const v = JSON.parse(text) as { seq?: unknown; offset?: unknown };
    if (typeof v.seq === 'number' && typeof v.offset === 'number' && v.seq >= 1 && v.offset >= 0) {
      return { seq: v.seq, offset: v.offset };
    }
  } catch {
    // fall through: an unreadable cursor restarts from the oldest segment (duplicates, never loss)
  }
  return undefined;
}

async function truncateFile(path: string, size: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.truncate(size);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** fsyncs a directory so a new file's entry is durable; a platform that cannot is ignored. */
export async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some platforms cannot fsync a directory; the segment's own fsync still holds its data.
  }
}
