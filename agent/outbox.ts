/**
 * What the agent owes the controller, durable until acked. Two lanes (`src/protocol/lanes.ts`), each a disk
 * spool with its own in-flight window: control (reports, exec results) in `spool/` and data (records,
 * events) in `spool-data/`. A data lane full of un-acked records (a target is down) never delays a report
 * or an exec result, and control is always offered the socket first.
 *
 * `spool/` is where the single spool of earlier versions lived: whatever such a version left there (data
 * too) is sent from the control lane once, and the controller routes each message by its type.
 */
import { join } from 'node:path';
import { LANES, type Lane, laneOf } from '../src/protocol/lanes.js';
import type { SpooledMessage } from '../src/protocol/messages.js';
import { errorText, type Logger, Spool, silentLogger } from './engine/index.js';

/** Spool directories under the agent's state dir, by lane. */
export const LANE_SPOOL_DIRS: Readonly<Record<Lane, string>> = { control: 'spool', data: 'spool-data' };

/** In-flight windows per lane, from `welcome`. */
export interface LaneWindows {
  control: number;
  data: number;
}

/** Sends one frame; false when the socket is not open. */
export type SendFrame = (msg: SpooledMessage) => boolean;

/** The socket a connection sends on: frames, and the bytes it holds that are not written yet. */
export interface OutboxSocket {
  send: SendFrame;
  /**
   * Sends a spooled message as the JSON text it was spooled as (the frame `send` would encode), so the
   * outbox need not parse it only to have it stringified again; false when the socket is not open.
   * Default: parse it and `send`.
   */
  sendEncoded?: (json: string) => boolean;
  bufferedAmount(): number;
}

/**
 * Data is not handed to the socket while it holds more than this unsent, so a report or exec result never
 * waits behind megabytes of records on a slow link (control frames are not held back by it).
 */
export const DATA_SEND_BUFFER_BYTES = 1024 * 1024;
/** How soon a data lane held back by a full send buffer looks again. */
export const DATA_SEND_RETRY_MS = 20;
/**
 * Data messages read back from disk per step. A step parses what it reads in one go, and data messages are
 * large (500 records): small steps let a report or an exec arriving meanwhile run between them.
 */
export const DATA_READ_BATCH = 8;

export interface OutboxOptions {
  logger: Logger;
  /** Spool segment size (tests use small ones); default the spool's. */
  segmentMaxBytes?: number;
  /**
   * True while control work has the agent's priority (control-priority.ts): the data lane sends nothing
   * then; call `flush()` when it turns false. Default: never.
   */
  dataHeld?: () => boolean;
}

/** One lane: a spool and the un-acked messages of it sent on the current connection. */
class OutboxLane {
  readonly inFlight = new Set<string>();
  window = 1;
  private socket: OutboxSocket | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private flushing = false;
  private flushAgain = false;
  /** Bumped after each ack is applied, so a flush knows its spool read may list acked messages. */
  private acksApplied = 0;
  /** Spool sequence of the last message sent this connection; 0 (after a reconnect or a retry) reads from the start. */
  private sentSeq = 0;

  /**
   * `maxBufferedBytes`: hold back while the socket holds more unsent (default: never hold back);
   * `readBatch`: messages read from disk per step (default: as many as the window has room for);
   * `held`: send nothing while it holds (the caller flushes again when it stops holding).
   */
  constructor(
    readonly spool: Spool,
    private readonly maxBufferedBytes = Number.POSITIVE_INFINITY,
    private readonly readBatch = Number.POSITIVE_INFINITY,
    private readonly held: () => boolean = () => false,
    private readonly logger: Logger = silentLogger,
  ) {}

  connect(window: number, socket: OutboxSocket): void {
    this.window = Math.max(1, window);
    this.socket = socket;
    this.inFlight.clear();
    this.sentSeq = 0;
  }

  disconnect(): void {
    this.socket = undefined;
    this.inFlight.clear();
    this.sentSeq = 0;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  async ack(ids: readonly string[]): Promise<void> {
    // Out of the spool before out of the window, and a flush that read the spool meanwhile reads it again:
    // otherwise an acked message can look pending to a concurrent flush and be sent twice.
    // Only an ack that removed something from this lane's spool can race this lane's flush: acks of the other
    // lane must not make it re-read, or a stream of data acks would keep a control flush re-reading forever.
    let changed = true; // unless the spool says it removed nothing (a failed ack may have half-applied)
    try {
      changed = (await this.spool.ack(ids)) > 0;
    } finally {
      for (const id of ids) this.inFlight.delete(id);
      if (changed) this.acksApplied += 1;
    }
  }

  /** Makes `id` sendable again (it stays spooled); false when it is not in flight in this lane. */
  retry(id: string): boolean {
    if (!this.inFlight.delete(id)) return false;
    this.sentSeq = 0;
    return true;
  }

  /** Sends pending spooled messages in order while the window has room. */
  async flush(): Promise<void> {
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = true;
    try {
      do {
        this.flushAgain = false;
        const socket = this.socket;
        if (!socket || this.held()) return;
        const room = this.window - this.inFlight.size;
        if (room <= 0) return;
        const acks = this.acksApplied;
        // Only what lies after the last message sent is read back from disk, not the in-flight ones again.
        const want = Math.min(room, this.readBatch);
        const pending = await this.spool.pendingEncoded(want, this.sentSeq);
        if (acks !== this.acksApplied || socket !== this.socket) {
          this.flushAgain = true;
          continue;
        }
        for (const entry of pending) {
          if (this.inFlight.size >= this.window) break;
          if (!this.inFlight.has(entry.id)) {
            if (this.held()) return;
            if (socket.bufferedAmount() > this.maxBufferedBytes) {
              this.lookAgainSoon();
              return;
            }
            const sent = socket.sendEncoded
              ? socket.sendEncoded(entry.json)
              : socket.send(JSON.parse(entry.json) as SpooledMessage);
            if (!sent) return;
            this.inFlight.add(entry.id);
          }
          this.sentSeq = entry.seq;
        }
        // The read was cut short (by the batch, or by entries already in flight after a reset to 0): read on
        // while there is room.
        if (pending.length === want && this.inFlight.size < this.window) this.flushAgain = true;
      } while (this.flushAgain);
    } finally {
      this.flushing = false;
    }
  }

  private lookAgainSoon(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flush().catch((err: unknown) => {
        this.logger.error('outbox: send failed', { error: errorText(err) });
      });
    }, DATA_SEND_RETRY_MS);
    this.retryTimer.unref();
  }
}

export class Outbox {
  private constructor(private readonly lanes: Record<Lane, OutboxLane>) {}

  /** Opens (creating) both lane spools under `stateDir`. */
  static async open(stateDir: string, options: OutboxOptions): Promise<Outbox> {
    const spoolOptions = {
      logger: options.logger,
      ...(options.segmentMaxBytes !== undefined ? { segmentMaxBytes: options.segmentMaxBytes } : {}),
    };
    const [control, data] = await Promise.all(
      LANES.map((l) => Spool.open(join(stateDir, LANE_SPOOL_DIRS[l]), spoolOptions)),
    );
    return new Outbox({
      control: new OutboxLane(control as Spool, undefined, undefined, undefined, options.logger),
      data: new OutboxLane(
        data as Spool,
        DATA_SEND_BUFFER_BYTES,
        DATA_READ_BATCH,
        options.dataHeld,
        options.logger,
      ),
    });
  }

  /** Spools `msg` in its lane (durable when this resolves) and sends what that lane's window allows. */
  async append(msg: SpooledMessage): Promise<void> {
    const lane = this.lanes[laneOf(msg)];
    await lane.spool.append(msg);
    await lane.flush();
  }

  /** A connection was welcomed: sends from both lanes, control first, within their windows. */
  async connect(windows: LaneWindows, socket: OutboxSocket | SendFrame): Promise<void> {
    const s = typeof socket === 'function' ? { send: socket, bufferedAmount: () => 0 } : socket;
    for (const l of LANES) this.lanes[l].connect(windows[l], s);
    await this.flush();
  }

  /** The connection is gone: nothing is in flight any more, everything un-acked is sent again next time. */
  disconnect(): void {
    for (const l of LANES) this.lanes[l].disconnect();
  }

  /** Forgets acked messages (durably) and sends more. Ids of either lane, unknown ones ignored. */
  async ack(ids: readonly string[]): Promise<void> {
    try {
      await Promise.all(LANES.map((l) => this.lanes[l].ack(ids)));
    } finally {
      await this.flush();
    }
  }

  /** The controller could not store `id`: send it again (it never left the spool). */
  async retry(id: string): Promise<void> {
    for (const l of LANES) if (this.lanes[l].retry(id)) await this.lanes[l].flush();
  }

  /**
   * Sends what the windows allow, control first: data starts once control has sent what it could (a short
   * wait: control messages are few and small), so on a new connection results never follow a burst of data.
   */
  async flush(): Promise<void> {
    await this.lanes.control.flush();
    await this.lanes.data.flush();
  }

  /** Un-acked messages in a lane, or in both. */
  size(lane?: Lane): number {
    if (lane) return this.lanes[lane].spool.size();
    return this.lanes.control.spool.size() + this.lanes.data.spool.size();
  }

  /** Messages of a lane sent on this connection and not acked yet. */
  inFlight(lane: Lane): number {
    return this.lanes[lane].inFlight.size;
  }

  /** Messages ever written to the outbox (both lanes); never goes back, also across restarts. */
  highWater(): number {
    return this.lanes.control.spool.highWater() + this.lanes.data.spool.highWater();
  }

  /** Waits for in-flight appends and acks, then closes both spools; what is un-acked stays on disk. */
  async close(): Promise<void> {
    this.disconnect();
    await Promise.all(LANES.map((l) => this.lanes[l].spool.close()));
  }
}
