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
    /**
     * Writes a host's record, keeping the `firstSeen` it has stored, and its whole set of statuses (those of
     * its statuses not given are deleted), atomically. `hostJson` is the record without `firstSeen`;
     * `statuses` are (id, JSON, index entries) triples.
     */
    gseHostState(...args: HostStateArgs): Result<number, Context>;
  }
}

/**
 * `host_state`'s arguments after its two keys: the host's JSON without firstSeen, its index entries,
 * firstSeen, the status key prefix, then (id, JSON, index entries) per status.
 */
export type HostStateValues = [
  hostJson: string,
  hostIdx: string,
  firstSeen: string,
  statusPrefix: string,
  ...statuses: string[],
];

/** A host write as `gseHostState` takes it: the host's record key, its status set, then its values. */
export type HostStateArgs = [hostKey: string, statusSet: string, ...values: HostStateValues];

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
 * the version it must have ('*' any, '0' absent), else -1. Only entries that changed are touched (a status
 * that moved from one state to another leaves 1 index and joins 1, not 4); `idx` is kept in step with the
 * index sets by every script here, so an unchanged `idx` needs no index work. Shared with scripts that
 * guard the same write (src/cluster/scripts.ts).
 */
export const UPSERT_FUNCTION = `
local function upsert(key, expected, json, idx)
  local cur = redis.call('HMGET', key, 'ver', 'idx')
  local ver = tonumber(cur[1] or '0')
  if expected ~= '*' and tonumber(expected) ~= ver then return -1 end
  local old = cur[2]
  if old ~= idx then
    local entries = cjson.decode(idx)
    local want = {}
    for _, e in ipairs(entries) do
      want[e[1]] = want[e[1]] or {}
      want[e[1]][e[2]] = true
    end
    local had = {}
    if old then
      for _, e in ipairs(cjson.decode(old)) do
        if want[e[1]] and want[e[1]][e[2]] then
          had[e[1]] = had[e[1]] or {}
          had[e[1]][e[2]] = true
        else
          redis.call('ZREM', e[1], e[2])
        end
      end
    end
    for _, e in ipairs(entries) do
      if not (had[e[1]] and had[e[1]][e[2]]) then redis.call('ZADD', e[1], 0, e[2]) end
    end
  end
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

/** Lua `prune(set, prefix, keep)`: deletes the records listed in `set` whose id is not a key of `keep`. */
const PRUNE_FUNCTION = `${REMOVE_FUNCTION}
local function prune(set, prefix, keep)
  local removed = 0
  for _, member in ipairs(redis.call('ZRANGE', set, 0, -1)) do
    if not keep[member] then removed = removed + remove(prefix .. member) end
  end
  return removed
end
`;

// KEYS[1] a set whose members are record ids; ARGV[1] record key prefix; ARGV[2..] ids to keep.
const PRUNE = `${PRUNE_FUNCTION}
local keep = {}
for i = 2, #ARGV do keep[ARGV[i]] = true end
return prune(KEYS[1], ARGV[1], keep)
`;

/**
 * Lua `host_state(hostKey, statusSet, argv, at)`: writes a host's record and its whole status set, from
 * `argv[at]` on: the host's JSON without firstSeen, its index entries, firstSeen when none is stored, the
 * status key prefix, then (id, JSON, index entries) per status. A stored record written here starts with its
 * firstSeen, so it is read without decoding the JSON; one written otherwise is decoded. Shared with the
 * cluster's guarded host write (src/cluster/scripts.ts).
 */
export const HOST_STATE_FUNCTION = `${UPSERT_FUNCTION}${PRUNE_FUNCTION}
local function host_state(hostKey, statusSet, argv, at)
  local old = redis.call('HGET', hostKey, 'data')
  local first = argv[at + 2]
  if old then
    first = string.match(old, '^{"firstSeen":"([^"]*)"') or cjson.decode(old).firstSeen or first
  end
  local rest = argv[at]
  local json = '{"firstSeen":' .. cjson.encode(first)
  if #rest > 2 then json = json .. ',' .. string.sub(rest, 2) else json = json .. '}' end
  upsert(hostKey, '*', json, argv[at + 1])
  local prefix = argv[at + 3]
  local keep = {}
  for i = at + 4, #argv, 3 do
    keep[argv[i]] = true
    upsert(prefix .. argv[i], '*', argv[i + 1], argv[i + 2])
  end
  prune(statusSet, prefix, keep)
  return 1
end
`;

// KEYS[1] host record, KEYS[2] the host's status set; ARGV as host_state's from 1.
const HOST_STATE = `${HOST_STATE_FUNCTION}
return host_state(KEYS[1], KEYS[2], ARGV, 1)
`;

/** Registers the scripts on a client (ioredis loads them on each connection at first use). */
export function defineScripts(client: Redis): void {
  client.defineCommand('gseUpsert', { numberOfKeys: 1, lua: UPSERT });
  client.defineCommand('gseRemove', { numberOfKeys: 1, lua: REMOVE });
  client.defineCommand('gsePrune', { numberOfKeys: 1, lua: PRUNE });
  client.defineCommand('gseHostState', { numberOfKeys: 2, lua: HOST_STATE });
}
