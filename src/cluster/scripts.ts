/**
 * The cluster's Lua scripts (atomic on the Redis server). Times come from the server's clock (TIME), so
 * replicas on hosts with skewed clocks agree on what expired.
 */
import type { Redis, Result } from 'ioredis';
import { HOST_STATE_FUNCTION, type HostStateValues, UPSERT_FUNCTION } from '../store/redis-scripts.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Takes the free lease (new fencing token) or renews mine; answers [token, holder, ttlMs]. */
    gseLease(
      lease: string,
      counter: string,
      me: string,
      ttlMs: string,
    ): Result<[string, string, number], Context>;
    /** Deletes the lease when I hold it; 1 when it did. */
    gseLeaseRelease(lease: string, me: string): Result<number, Context>;
    /** A leader-only write, done only while `token` holds the lease; 1 done, 0 refused. */
    gseFenced(
      lease: string,
      target: string,
      channel: string,
      token: string,
      op: 'set' | 'hset',
      a: string,
      b: string,
      message: string,
    ): Result<number, Context>;
    /** Marks hosts held by `me` for `ttlMs` from now (server time); answers how many it claimed. */
    gseClaim(
      holders: string,
      expiry: string,
      me: string,
      ttlMs: string,
      ...hostIds: string[]
    ): Result<number, Context>;
    /** Refreshes the entries `me` holds; answers [id, 'lost' (another replica took it) | 'back' (swept, claimed again)]. */
    gseRefresh(
      holders: string,
      expiry: string,
      me: string,
      ttlMs: string,
      ...hostIds: string[]
    ): Result<string[], Context>;
    /** Drops the entries `me` holds; 1 per dropped entry. */
    gseRelease(holders: string, expiry: string, me: string, ...hostIds: string[]): Result<number, Context>;
    /** The live holder of each host ('' for none). */
    gseHolders(holders: string, expiry: string, ...hostIds: string[]): Result<string[], Context>;
    /** Removes up to `limit` expired entries; answers [hostId, holder, ...]. */
    gseSweep(holders: string, expiry: string, limit: string): Result<string[], Context>;
    /**
     * Writes a host record (the store's record hash: data, idx, ver) only while no replica has an entry for
     * the host (even one past its TTL) and its version is `expected`; -2 held, -1 changed meanwhile, else the
     * new version.
     */
    gseWriteUnheld(
      holders: string,
      record: string,
      hostId: string,
      expected: string,
      json: string,
      idx: string,
    ): Result<number, Context>;
    /**
     * Writes a host's record and statuses (the store's `host_state`) unless another replica has an entry for
     * the host (even one past its TTL); -2 then, else 1. After `me` and `hostId`, the arguments are
     * `host_state`'s.
     */
    gseHostStateHeld(
      holders: string,
      hostKey: string,
      statusSet: string,
      me: string,
      hostId: string,
      ...values: HostStateValues
    ): Result<number, Context>;
    /** Marks a replica alive for `ttlMs`; answers every live replica id. */
    gseReplicaAlive(replicas: string, me: string, ttlMs: string): Result<string[], Context>;
  }
}

const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

// KEYS[1] lease, KEYS[2] token counter; ARGV[1] me, ARGV[2] ttl ms.
const LEASE = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local tok, holder = string.match(cur, '^(%d+):(.*)$')
  if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {tok, holder, tonumber(ARGV[2])}
  end
  return {tok, holder, redis.call('PTTL', KEYS[1])}
end
local tok = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], tok .. ':' .. ARGV[1], 'PX', ARGV[2])
return {tostring(tok), ARGV[1], tonumber(ARGV[2])}
`;

// KEYS[1] lease; ARGV[1] me.
const LEASE_RELEASE = `
local cur = redis.call('GET', KEYS[1])
if cur and string.match(cur, '^%d+:(.*)$') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

// KEYS[1] lease, KEYS[2] target, KEYS[3] channel ('' none); ARGV[1] token, ARGV[2] op, ARGV[3..4] args,
// ARGV[5] message published on success.
const FENCED = `
local cur = redis.call('GET', KEYS[1])
if not cur or string.match(cur, '^(%d+):') ~= ARGV[1] then return 0 end
if ARGV[2] == 'set' then
  redis.call('SET', KEYS[2], ARGV[3])
elseif ARGV[2] == 'hset' then
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
else
  return redis.error_reply('unknown fenced op ' .. ARGV[2])
end
if KEYS[3] ~= '' then redis.call('PUBLISH', KEYS[3], ARGV[5]) end
return 1
`;

// KEYS[1] holders, KEYS[2] expiry; ARGV[1] me, ARGV[2] ttl, ARGV[3..] host ids.
const CLAIM = `${NOW_MS}
for i = 3, #ARGV do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[1])
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[i])
end
return #ARGV - 2
`;

// Answers [id, 'lost' | 'back', ...]: taken by another replica, or swept and claimed again.
const REFRESH = `${NOW_MS}
local out = {}
for i = 3, #ARGV do
  local holder = redis.call('HGET', KEYS[1], ARGV[i])
  if holder == ARGV[1] or not holder then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[1])
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[i])
    if not holder then
      out[#out + 1] = ARGV[i]
      out[#out + 1] = 'back'
    end
  else
    out[#out + 1] = ARGV[i]
    out[#out + 1] = 'lost'
  end
end
return out
`;

// ARGV[1] me, ARGV[2..] host ids.
const RELEASE = `
local n = 0
for i = 2, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('ZREM', KEYS[2], ARGV[i])
    n = n + 1
  end
end
return n
`;

// ARGV[1..] host ids.
const HOLDERS = `${NOW_MS}
local out = {}
for i = 1, #ARGV do
  local h = redis.call('HGET', KEYS[1], ARGV[i])
  local exp = redis.call('ZSCORE', KEYS[2], ARGV[i])
  if h and exp and tonumber(exp) > now then out[i] = h else out[i] = '' end
end
return out
`;

// ARGV[1] limit.
const SWEEP = `${NOW_MS}
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', KEYS[1], id) or ''
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
end
return out
`;

// KEYS[1] holders, KEYS[2] the host's record hash; ARGV[1] host id, ARGV[2] expected version, ARGV[3]
// record JSON, ARGV[4] its index entries. The write is the store's own upsert, guarded by the directory:
// -2 while any replica has an entry for the host, even one past its TTL. The leader marks a host offline
// only after its sweep removed the entry, so an entry there now was claimed back since, and its holder
// wrote the host; marking it offline then would stick, since that holder's next refresh renews its entry
// without writing the host again. A truly dead holder's entry is removed by the next sweep.
const WRITE_UNHELD = `${UPSERT_FUNCTION}
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return -2 end
return upsert(KEYS[2], ARGV[2], ARGV[3], ARGV[4])
`;

// KEYS[1] holders, KEYS[2] the host's record hash, KEYS[3] its status set; ARGV[1] me, ARGV[2] host id,
// then host_state's arguments. The check and the write are one step: a replica whose agent moved on never
// writes over the replica it moved to. Another replica's entry counts even past its TTL: that replica may
// be alive but late, and renews the entry without writing the host again; the leader's sweep removes the
// entry of one that died.
const HOST_STATE_HELD = `${HOST_STATE_FUNCTION}
local h = redis.call('HGET', KEYS[1], ARGV[2])
if h and h ~= ARGV[1] then return -2 end
return host_state(KEYS[2], KEYS[3], ARGV, 3)
`;

// KEYS[1] replicas; ARGV[1] me, ARGV[2] ttl.
const REPLICA_ALIVE = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

/** Registers the cluster's scripts on a client. */
export function defineClusterScripts(client: Redis): void {
  client.defineCommand('gseLease', { numberOfKeys: 2, lua: LEASE });
  client.defineCommand('gseLeaseRelease', { numberOfKeys: 1, lua: LEASE_RELEASE });
  client.defineCommand('gseFenced', { numberOfKeys: 3, lua: FENCED });
  client.defineCommand('gseClaim', { numberOfKeys: 2, lua: CLAIM });
  client.defineCommand('gseRefresh', { numberOfKeys: 2, lua: REFRESH });
  client.defineCommand('gseRelease', { numberOfKeys: 2, lua: RELEASE });
  client.defineCommand('gseHolders', { numberOfKeys: 2, lua: HOLDERS });
  client.defineCommand('gseSweep', { numberOfKeys: 2, lua: SWEEP });
  client.defineCommand('gseReplicaAlive', { numberOfKeys: 1, lua: REPLICA_ALIVE });
  client.defineCommand('gseWriteUnheld', { numberOfKeys: 2, lua: WRITE_UNHELD });
  client.defineCommand('gseHostStateHeld', { numberOfKeys: 3, lua: HOST_STATE_HELD });
}
