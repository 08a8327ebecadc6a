/** SQLite-only behaviour: file format, schema versioning, corrupt rows. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CorruptRecordError, SchemaTooNewError, StoreConnectError } from '../../src/store/errors.js';
import { migrate, SCHEMA_VERSION } from '../../src/store/sqlite-schema.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { host } from './fixtures.js';

describe('SqliteStore', () => {
  let dir = '';
  let path = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-sqlite-'));
    path = join(dir, 'gse.db');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the file in WAL mode at the current schema version when none exists', async () => {
    const store = await SqliteStore.open(path);
    await store.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    db.close();
  });

  it('keeps the data and version when an existing file is opened again', async () => {
    const first = await SqliteStore.open(path);
    await first.upsertHost(host(1));
    await first.close();
    const again = await SqliteStore.open(path);
    expect(await again.getHost('host-0001')).toStrictEqual(host(1));
    await again.close();
  });

  it('adds tokens and keeps the audit log when a version 1 file is opened', async () => {
    const old = new Database(path);
    migrate(old, path, 1);
    old
      .prepare('INSERT INTO audit (id, at, atMs, actor, action, target) VALUES (?, ?, ?, ?, ?, ?)')
      .run(
        'a1',
        '2024-05-01T00:00:00.000Z',
        Date.parse('2024-05-01T00:00:00.000Z'),
        'admin',
        'POST /x',
        '/x',
      );
    old.close();
    const store = await SqliteStore.open(path);
    expect((await store.listAudit({ actor: 'admin' })).items).toStrictEqual([
      { id: 'a1', at: '2024-05-01T00:00:00.000Z', actor: 'admin', action: 'POST /x', target: '/x' },
    ]);
    await store.putToken({
      name: 'ci',
      role: 'viewer',
      hash: 'a'.repeat(64),
      createdAt: '2024-05-01T00:00:00.000Z',
      createdBy: 'admin',
    });
    expect((await store.findTokenByHash('a'.repeat(64)))?.name).toBe('ci');
    await store.close();
  });

  it('refuses the file with SchemaTooNewError when a newer build wrote it', async () => {
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    await expect(SqliteStore.open(path)).rejects.toThrow(SchemaTooNewError);
  });

  it('throws StoreConnectError when the directory does not exist', async () => {
    await expect(SqliteStore.open(join(dir, 'missing', 'gse.db'))).rejects.toThrow(StoreConnectError);
  });

  it('throws CorruptRecordError naming the row when a stored row is not a record', async () => {
    const store = await SqliteStore.open(path);
    await store.upsertHost(host(1));
    const db = new Database(path);
    db.prepare("UPDATE hosts SET ips = '{not json' WHERE hostId = ?").run('host-0001');
    db.prepare("UPDATE hosts SET syncState = 'Bogus'").run();
    db.close();
    await expect(store.getHost('host-0001')).rejects.toThrow(CorruptRecordError);
    await expect(store.getHost('host-0001')).rejects.toThrow(/corrupt record at hosts\(host-0001\)/);
    await expect(store.countHostsBySyncState()).rejects.toThrow(CorruptRecordError);
    await store.close();
  });
});
