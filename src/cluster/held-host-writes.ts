/**
 * A replica's batch of host states, each written only where no other replica has an entry for the host in
 * the session directory, checked in the same script as the write (src/cluster/scripts.ts,
 * `gseHostStateHeld`). A replica whose agent moved on (its disconnect not handled yet, or its socket
 * half-open) thus never writes its stale view over the replica the agent moved to, however its write and the
 * other's claim interleave.
 */
import type { Redis } from 'ioredis';
import { checkHostWrites, hostStateArgs } from '../store/redis-batch.js';
import type { RedisLayout } from '../store/redis-kinds.js';
import { replies } from '../store/redis-scan.js';
import type { HostStateWrite } from '../store/types.js';
import type { ClusterKeys } from './keys.js';

/** Writes `writes` in one pipeline, each unless another replica has the host's entry; answers the ids refused. */
export async function writeHostStatesHeld(
  redis: Redis,
  keys: ClusterKeys,
  layout: RedisLayout,
  me: string,
  writes: HostStateWrite[],
): Promise<string[]> {
  const checked = checkHostWrites(writes);
  if (checked.length === 0) return [];
  const batch = redis.pipeline();
  for (const write of checked) {
    const [hostKey, statusSet, ...argv] = hostStateArgs(layout, write);
    batch.gseHostStateHeld(keys.holders, hostKey, statusSet, me, write.host.hostId, ...argv);
  }
  const results = await replies(batch, 'host states');
  return checked.filter((_, i) => Number(results[i]) === -2).map((w) => w.host.hostId);
}
