/**
 * Lua scripts that keep a record hash and its index sorted sets in step, atomically. A record hash holds
 * `data` (the record's JSON), `idx` (JSON array of [index key, member] it is listed under) and `ver` (a
 * counter for optimistic updates). All index members have score 0, so each index is ordered by member.
 */
import type { Redis, Result } from 'ioredis';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Writes a record and moves its index entries; -1 when `expected` is not the current version. */
    gseUpsert(key: string, expected: string, json: string, idx: string): Result<number, Context>;
    /** Deletes a record and its index entries; 1 when it existed. */
    gseRemove(key: string): Result<number, Context>;
    /** Deletes the records listed in `set` whose id is not in `keep`; how many it deleted. */
    gsePrune(set: string, recordPrefix: string, ...keep: string[]): Result<number, Context>;
  }
}

const REMOVE_FUNCTION = `
local function remove(key)
  local idx = redis.call('HGET', key, 'idx')
  if not idx then return 0 end
  for _, e in ipairs(cjson.decode(idx)) do redis.call('ZREM', e[1], e[2]) end
  redis.call('DEL', key)
  return 1
end
`;

/**
 * Lua `upsert(key, expected, json, idx)`: writes a record hash and moves its index entries; `expected` is
 * the version it must have ('*' any, '0' absent), else -1. Shared with scripts that guard the same write
 * (src/cluster/scripts.ts).
 */
export const UPSERT_FUNCTION = `
local function upsert(key, expected, json, idx)
  local ver = tonumber(redis.call('HGET', key, 'ver') or '0')
  if expected ~= '*' and tonumber(expected) ~= ver then return -1 end
  local entries = cjson.decode(idx)
  local keep = {}
  for _, e in ipairs(entries) do
    keep[e[1]] = keep[e[1]] or {}
    keep[e[1]][e[2]] = true
  end
  local old = redis.call('HGET', key, 'idx')
  if old then
    for _, e in ipairs(cjson.decode(old)) do
      if not (keep[e[1]] and keep[e[1]][e[2]]) then redis.call('ZREM', e[1], e[2]) end
    end
  end
  for _, e in ipairs(entries) do redis.call('ZADD', e[1], 0, e[2]) end
  redis.call('HSET', key, 'data', json, 'idx', idx, 'ver', ver + 1)
  return ver + 1
end
`;

// KEYS[1] record; ARGV[1] expected version ('*' any, '0' absent); ARGV[2] JSON; ARGV[3] index entries.
const UPSERT = `${UPSERT_FUNCTION}
return upsert(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
`;

// KEYS[1] record.
const REMOVE = `${REMOVE_FUNCTION}
return remove(KEYS[1])
`;

// KEYS[1] a set whose members are record ids; ARGV[1] record key prefix; ARGV[2..] ids to keep.
const PRUNE = `${REMOVE_FUNCTION}
local keep = {}
for i = 2, #ARGV do keep[ARGV[i]] = true end
local removed = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if not keep[member] then removed = removed + remove(ARGV[1] .. member) end
end
return removed
`;

/** Registers the scripts on a client (ioredis loads them on each connection at first use). */
export function defineScripts(client: Redis): void {
  client.defineCommand('gseUpsert', { numberOfKeys: 1, lua: UPSERT });
  client.defineCommand('gseRemove', { numberOfKeys: 1, lua: REMOVE });
  client.defineCommand('gsePrune', { numberOfKeys: 1, lua: PRUNE });
}
