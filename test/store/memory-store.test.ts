/** What only the in-memory store needs checked (the conformance suite covers the Store contract). */
import { describe, expect, it } from 'vitest';
import { MemoryStore, openStore } from '../../src/store/index.js';
import { compareText } from '../../src/store/memory-order.js';
import { audit, fullHost } from './fixtures.js';

describe('MemoryStore', () => {
  it('opens empty and in memory when openStore is given { memory: true }', async () => {
    const store = await openStore({ memory: true });
    expect(store).toBeInstanceOf(MemoryStore);
    expect((await store.listHosts()).items).toEqual([]);
    await store.close();
  });

  it('does not change a stored record when the caller changes what it put or got', async () => {
    const store = MemoryStore.open();
    const put = fullHost(1);
    await store.upsertHost(put);
    put.labels.role = 'changed';
    const got = await store.getHost('host-0001');
    if (!got) throw new Error('host not stored');
    got.ips.push('10.9.9.9');
    expect(await store.getHost('host-0001')).toStrictEqual(fullHost(1));

    const detail = { hosts: ['h1'] };
    await store.appendAudit(audit(1, { detail }));
    detail.hosts.push('h2');
    expect((await store.listAudit()).items[0]?.detail).toStrictEqual({ hosts: ['h1'] });
  });

  it('keeps two fresh stores apart when each is opened without data', async () => {
    const a = MemoryStore.open();
    const b = MemoryStore.open();
    await a.upsertHost(fullHost(1));
    expect(await b.getHost('host-0001')).toBeUndefined();
  });
});

describe('compareText', () => {
  it.each([
    { a: 'a', b: 'b', sign: -1 },
    { a: 'ab', b: 'a', sign: 1 },
    { a: 'x', b: 'x', sign: 0 },
    // U+1F600 (a surrogate pair in UTF-16) sorts after U+FFFD in UTF-8 byte order, as SQLite sorts it.
    { a: '\u{1F600}', b: '\uFFFD', sign: 1 },
    { a: '\uE000', b: '\u{10000}', sign: -1 },
  ])('orders $a against $b by code point', ({ a, b, sign }) => {
    expect(Math.sign(compareText(a, b))).toBe(sign);
    expect(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)))).toBe(sign);
  });
});
