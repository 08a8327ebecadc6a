/** The state store: `openStore` picks the implementation; everything else is re-exported from here. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './types.js';

export * from './errors.js';
export { MemoryStore, MemoryStoreData } from './memory-store.js';
export { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from './paging.js';
export { DEFAULT_REDIS_PREFIX, RedisStore, type RedisStoreOptions } from './redis-store.js';
export { SqliteStore } from './sqlite-store.js';
export * from './types.js';

/** Name of the SQLite file inside the state dir. */
export const SQLITE_FILE_NAME = 'gse.db';

export interface OpenStoreOptions {
  /** The controller's state dir; holds the SQLite file when no Redis is given (created when absent). */
  stateDir: string;
  /** redis://... — use Redis (several replicas) instead of the embedded SQLite file. */
  redisUrl?: string;
  /** Key prefix in Redis; default `gse:`. */
  redisPrefix?: string;
}

/** An in-memory store (tests, demos): nothing is written anywhere and nothing survives the process. */
export interface MemoryStoreOptions {
  memory: true;
}

/**
 * Opens the Redis store when `redisUrl` is set, else the SQLite file `<stateDir>/gse.db` (the default);
 * `{ memory: true }` opens an empty in-memory store.
 */
export async function openStore(options: OpenStoreOptions | MemoryStoreOptions): Promise<Store> {
  if ('memory' in options) return MemoryStore.open();
  if (options.redisUrl !== undefined) {
    return RedisStore.open(options.redisUrl, { prefix: options.redisPrefix });
  }
  await mkdir(options.stateDir, { recursive: true });
  return SqliteStore.open(join(options.stateDir, SQLITE_FILE_NAME));
}
