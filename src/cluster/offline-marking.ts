/**
 * Marking a host offline (Unknown) once its replica stopped refreshing its session, atomically against a
 * replica claiming it back: one script writes the record only while the session directory has no entry for
 * the host (the leader's sweep removed it; one there now, even past its TTL, was claimed back). In a cluster
 * the store is the Redis store on the cluster's Redis (`openStore` picks it with `--redis`, and fenced
 * writes already use its layout), so the record is a key this script can guard; a claim that lands first
 * leaves the record as its holder writes it, one that lands after writes it again (the holder claims before
 * it writes).
 */
import type { Redis } from 'ioredis';
import { encodeRecord, type RedisLayout } from '../store/redis-kinds.js';
import { decodeRecord } from '../store/redis-scan.js';
import { OfflineMarkConflictError } from './errors.js';
import type { ClusterKeys } from './keys.js';

/** Tries at most this many times when other writes change the record between the read and the write. */
export const OFFLINE_MARK_ATTEMPTS = 5;

/** `marked`: written offline; `held`: a replica holds the session (nothing written); `unchanged`: absent or offline already. */
export type OfflineMark = 'marked' | 'held' | 'unchanged';

/** Writes the host's record offline and Unknown unless a replica has its entry, in one script. */
export async function markOfflineUnlessHeld(
  redis: Redis,
  keys: ClusterKeys,
  layout: RedisLayout,
  hostId: string,
): Promise<OfflineMark> {
  const key = layout.hosts.recordPrefix + hostId;
  for (let attempt = 0; attempt < OFFLINE_MARK_ATTEMPTS; attempt++) {
    const [json, version] = await redis.hmget(key, 'data', 'ver');
    if (json == null) return 'unchanged';
    const rec = decodeRecord(layout.hosts, json, key);
    if (!rec.connected && rec.syncState === 'Unknown') return 'unchanged';
    const [data, idx] = encodeRecord(layout.hosts, { ...rec, connected: false, syncState: 'Unknown' });
    const written = await redis.gseWriteUnheld(keys.holders, key, hostId, version ?? '0', data, idx);
    if (written === -2) return 'held';
    if (written >= 0) return 'marked';
  }
  throw new OfflineMarkConflictError(hostId, OFFLINE_MARK_ATTEMPTS);
}
