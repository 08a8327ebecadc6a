/**
 * The on-disk delivery queue (`<state-dir>/notify/`): one file per delivery, written to a temporary name,
 * fsynced, renamed and the directory fsynced, so a delivery is durable before `enqueue` resolves and
 * survives a controller restart. Files are 0600 (bodies carry script output). A delivery leaves the queue
 * only once its receiver answered 2xx. The queue is bounded: past `maxEntries` a new delivery is refused
 * with QueueFullError (the caller counts and logs it); nothing already queued is ever dropped.
 */
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecretRef } from '../spec/types.js';

/** Deliveries held at most by default. */
export const DEFAULT_MAX_QUEUED = 10_000;
/** Width of the zero-padded sequence number in file names (sorting names sorts by age). */
const SEQ_WIDTH = 16;
const FILE_RE = /^(\d{16})\.json$/;

/** Which secret signs a delivery: a Notification's reference, or the controller's callback secret. */
export type DeliverySecret = { ref: SecretRef } | { callback: true };

/** One POST to make: its exact body, where to, and which secret signs it (resolved when it is sent). */
export interface QueuedDelivery {
  /** Unique, the body's `id` and the X-GSE-Delivery header: the same on every retry. */
  id: string;
  /** Order of arrival (per queue), kept across restarts. */
  seq: number;
  url: string;
  body: string;
  secret: DeliverySecret;
  queuedAt: string;
}

export class QueueFullError extends Error {
  readonly code = 'queue_full';
  constructor(readonly maxEntries: number) {
    super(`the notification queue holds ${maxEntries} deliveries (its limit); this one is not queued`);
    this.name = 'QueueFullError';
  }
}

export interface DeliveryQueueOptions {
  dir: string;
  /** Default DEFAULT_MAX_QUEUED. */
  maxEntries?: number;
  /** Told about files that cannot be read back (set aside as `*.bad`, never deleted). */
  onCorrupt?: (file: string, error: string) => void;
}

export class DeliveryQueue {
  private readonly entries = new Map<number, QueuedDelivery>();
  private nextSeq = 1;

  private constructor(
    readonly dir: string,
    readonly maxEntries: number,
  ) {}

  /** Opens (creating, 0700) the queue directory and reads back every delivery left from before. */
  static async open(opts: DeliveryQueueOptions): Promise<DeliveryQueue> {
    await mkdir(opts.dir, { recursive: true, mode: 0o700 });
    const q = new DeliveryQueue(opts.dir, opts.maxEntries ?? DEFAULT_MAX_QUEUED);
    for (const name of (await readdir(opts.dir)).sort()) {
      const path = join(opts.dir, name);
      if (name.endsWith('.tmp')) {
        await unlink(path).catch(() => undefined); // a write cut short: never acknowledged
        continue;
      }
      const m = FILE_RE.exec(name);
      if (!m) continue;
      try {
        const d = JSON.parse(await readFile(path, 'utf8')) as QueuedDelivery;
        if (typeof d.id !== 'string' || typeof d.url !== 'string' || typeof d.body !== 'string')
          throw new Error('not a delivery');
        d.seq = Number(m[1]);
        q.entries.set(d.seq, d);
        q.nextSeq = Math.max(q.nextSeq, d.seq + 1);
      } catch (err) {
        opts.onCorrupt?.(path, (err as Error).message);
        await rename(path, `${path}.bad`).catch(() => undefined);
      }
    }
    return q;
  }

  /** Deliveries held now. */
  get size(): number {
    return this.entries.size;
  }

  /** Every held delivery, oldest first. */
  list(): QueuedDelivery[] {
    return [...this.entries.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Writes a delivery durably; resolves with it once it is on disk. Throws QueueFullError at the limit. */
  async enqueue(d: Omit<QueuedDelivery, 'seq'>): Promise<QueuedDelivery> {
    if (this.entries.size >= this.maxEntries) throw new QueueFullError(this.maxEntries);
    const seq = this.nextSeq++;
    const entry: QueuedDelivery = { ...d, seq };
    // Reserved before the write, so concurrent enqueues count against the limit.
    this.entries.set(seq, entry);
    try {
      await this.writeDurably(this.fileOf(seq), JSON.stringify(entry));
    } catch (err) {
      this.entries.delete(seq);
      throw err;
    }
    return entry;
  }

  /** Drops a delivery its receiver accepted. */
  async remove(seq: number): Promise<void> {
    this.entries.delete(seq);
    await unlink(this.fileOf(seq)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  private fileOf(seq: number): string {
    return join(this.dir, `${String(seq).padStart(SEQ_WIDTH, '0')}.json`);
  }

  private async writeDurably(path: string, text: string): Promise<void> {
    const tmp = `${path}.tmp`;
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    const dirHandle = await open(this.dir, constants.O_RDONLY);
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  }
}
