/**
 * The store implementations the conformance suite runs against: a SQLite file in a temp dir, a real
 * redis-server on a free port (one per backend run; each test gets its own key prefix), and the in-memory
 * store (one data location per fixture).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { MemoryStore, MemoryStoreData } from '../../src/store/memory-store.js';
import { RedisStore } from '../../src/store/redis-store.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { Store } from '../../src/store/types.js';
import { type RedisHandle, startRedis } from '../helpers/redis-server.js';

/** One data location: every `open()` opens the same data again. */
export interface StoreFixture {
  open(): Promise<Store>;
}

export interface Backend {
  setup(): Promise<void>;
  teardown(): Promise<void>;
  fresh(): Promise<StoreFixture>;
  /** Stops and starts the database server, when there is one. */
  restartServer?: () => Promise<void>;
}

/** SQLite files, one per fixture, in one temp dir. */
export function sqliteBackend(): Backend {
  let root = '';
  let count = 0;
  return {
    setup: async () => {
      root = await mkdtemp(join(tmpdir(), 'gse-store-'));
    },
    teardown: async () => {
      await rm(root, { recursive: true, force: true });
    },
    fresh: async () => {
      const path = join(root, `store-${++count}.db`);
      return { open: () => SqliteStore.open(path) };
    },
  };
}

/** One redis-server with AOF on; one key prefix per fixture. */
export function redisBackend(): Backend {
  let redis: RedisHandle | undefined;
  let count = 0;
  const handle = (): RedisHandle => {
    if (!redis) throw new Error('redis-server not started');
    return redis;
  };
  return {
    setup: async () => {
      redis = await startRedis();
    },
    teardown: async () => {
      await redis?.cleanup();
    },
    fresh: async () => {
      const prefix = `t${++count}:`;
      return { open: () => RedisStore.open(handle().url, { prefix }) };
    },
    restartServer: async () => {
      await handle().stop();
      await handle().restart();
    },
  };
}

/** In-memory stores; every `open()` of one fixture shares its data, as two handles on one file do. */
export function memoryBackend(): Backend {
  return {
    setup: async () => {},
    teardown: async () => {},
    fresh: async () => {
      const data = new MemoryStoreData();
      return { open: async () => MemoryStore.open(data) };
    },
  };
}

/** Every backend, by name: the conformance suite runs once over each. */
export const BACKENDS: ReadonlyArray<[string, () => Backend]> = [
  ['sqlite', sqliteBackend],
  ['redis', redisBackend],
  ['memory', memoryBackend],
];

export interface StoreContext {
  backend: Backend;
  /** A new, empty store, closed after the test. */
  store(): Promise<Store>;
  /** A new data location whose stores are closed after the test. */
  fresh(): Promise<StoreFixture>;
}

/** Registers the backend's lifecycle hooks in the current describe block. */
export function useBackend(backend: Backend): StoreContext {
  const opened: Store[] = [];
  beforeAll(() => backend.setup());
  afterAll(() => backend.teardown());
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  const fresh = async (): Promise<StoreFixture> => {
    const fixture = await backend.fresh();
    return {
      open: async () => {
        const store = await fixture.open();
        opened.push(store);
        return store;
      },
    };
  };
  return { backend, fresh, store: async () => (await fresh()).open() };
}
