/**
 * Leader-only writes: each goes through one Lua script that performs it only while the writer's fencing
 * token still holds the lease, so a stale leader (paused past its lease, cut off, slow) cannot overwrite
 * what the new leader decided. A refused write throws FencedWriteRefusedError and is logged.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../kernel/logger.js';
import { FencedWriteRefusedError, NotLeaderError } from './errors.js';
import type { ClusterKeys } from './keys.js';

export interface FencedWriterDeps {
  redis: Redis;
  keys: ClusterKeys;
  logger: Logger;
  /** The token this replica leads with, or undefined when it does not lead. */
  token(): number | undefined;
}

export class FencedWriter {
  constructor(private readonly deps: FencedWriterDeps) {}

  /** SET `key` `value` (and PUBLISH `message` on the cluster's event channel), fenced. */
  set(what: string, key: string, value: string, message?: string): Promise<void> {
    return this.write(what, key, 'set', value, '', message);
  }

  /** HSET `key` `field` `value` (and PUBLISH `message`), fenced. */
  hset(what: string, key: string, field: string, value: string, message?: string): Promise<void> {
    return this.write(what, key, 'hset', field, value, message);
  }

  /** Like `set`, with an explicit token (tests: a stale leader's write). */
  async setWithToken(what: string, token: number, key: string, value: string): Promise<void> {
    await this.run(what, token, key, 'set', value, '', undefined);
  }

  private async write(
    what: string,
    key: string,
    op: 'set' | 'hset',
    a: string,
    b: string,
    message: string | undefined,
  ): Promise<void> {
    const token = this.deps.token();
    if (token === undefined) {
      this.deps.logger.warn('leader-only write skipped: not the leader', { what });
      throw new NotLeaderError(what);
    }
    await this.run(what, token, key, op, a, b, message);
  }

  private async run(
    what: string,
    token: number,
    key: string,
    op: 'set' | 'hset',
    a: string,
    b: string,
    message: string | undefined,
  ): Promise<void> {
    const { redis, keys } = this.deps;
    const channel = message === undefined ? '' : keys.events;
    const done = await redis.gseFenced(keys.lease, key, channel, String(token), op, a, b, message ?? '');
    if (done === 1) return;
    const err = new FencedWriteRefusedError(what, token);
    this.deps.logger.error('fenced write refused: a stale leader cannot write', { what, token });
    throw err;
  }
}
