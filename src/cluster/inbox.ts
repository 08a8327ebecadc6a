/**
 * Work for an agent held by another replica: a Redis stream per replica id, read by that replica through a
 * consumer group and acked (then deleted) once handled, so work survives a restart of the reader under the
 * same id (pending entries are read first). Senders never wait for the work to be done.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../kernel/logger.js';
import type { ExecMessage } from '../protocol/messages.js';
import type { ClusterKeys } from './keys.js';

/** What one replica asks another. */
export type InboxWork =
  | { kind: 'send'; hostId: string; msg: ExecMessage }
  | { kind: 'sync'; hostIds?: string[] }
  | { kind: 'close'; agentId: string; action: 'revoke' | 'reset' }
  | { kind: 'fetch' }
  | {
      kind: 'rollout';
      action: RolloutAction;
      name: string;
      actor: string;
      replyTo: string;
      requestId: string;
    }
  | { kind: 'reply'; requestId: string; error?: { status: number; message: string } }
  /** To the leader: a host held here changed in what a rollout reads (stored already); step now. */
  | { kind: 'rolloutHostChanged' };

/** An operator's rollout command, done by the leader. */
export type RolloutAction = 'pause' | 'resume' | 'undo';

const GROUP = 'gse';
/** Entries kept per inbox at most (approximate trim), so a replica that never returns cannot fill Redis. */
const MAX_LEN = 100_000;
const BLOCK_MS = 1_000;
const COUNT = 200;

type StreamReply = Array<[string, Array<[string, string[]]>]> | null;

export class Inbox {
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    /** Commands (XADD, XACK). */
    private readonly redis: Redis,
    /** A client of its own: XREADGROUP blocks it. */
    private readonly reader: Redis,
    private readonly keys: ClusterKeys,
    private readonly me: string,
    private readonly logger: Logger,
  ) {}

  /** Puts work in `replicaId`'s inbox. */
  async send(replicaId: string, work: InboxWork): Promise<void> {
    await this.redis.xadd(
      this.keys.inbox(replicaId),
      'MAXLEN',
      '~',
      String(MAX_LEN),
      '*',
      'w',
      JSON.stringify(work),
    );
  }

  /** Starts reading this replica's inbox: pending entries first, then new ones, each handed to `handle`. */
  async start(handle: (work: InboxWork) => Promise<void>): Promise<void> {
    const key = this.keys.inbox(this.me);
    try {
      await this.redis.xgroup('CREATE', key, GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String(err).includes('BUSYGROUP')) throw err;
    }
    this.loop = this.run(key, handle);
  }

  /** Stops reading (the blocking client is the caller's to close). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(key: string, handle: (work: InboxWork) => Promise<void>): Promise<void> {
    let cursor = '0'; // pending entries (delivered to this id before, never acked) first
    while (!this.stopped) {
      let reply: StreamReply;
      try {
        reply = (await this.reader.xreadgroup(
          'GROUP',
          GROUP,
          this.me,
          'COUNT',
          COUNT,
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          key,
          cursor,
        )) as StreamReply;
      } catch (err) {
        if (this.stopped) return;
        this.logger.warn('inbox read failed; retrying', { error: String(err) });
        await new Promise((r) => setTimeout(r, BLOCK_MS));
        continue;
      }
      const entries = reply?.[0]?.[1] ?? [];
      if (cursor === '0' && entries.length === 0) cursor = '>';
      for (const [id, fields] of entries) {
        await this.handleEntry(key, id, fields, handle);
      }
    }
  }

  private async handleEntry(
    key: string,
    id: string,
    fields: string[],
    handle: (work: InboxWork) => Promise<void>,
  ): Promise<void> {
    const text = fields[1];
    try {
      if (text !== undefined) await handle(JSON.parse(text) as InboxWork);
    } catch (err) {
      this.logger.error('inbox work failed; dropped', { id, error: String(err) });
    }
    await this.redis.xack(key, GROUP, id);
    await this.redis.xdel(key, id);
  }
}
