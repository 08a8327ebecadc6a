import { describe, expect, it } from 'vitest';
import { recordJson, serializeRecord } from '../../src/routing/route-table.js';
import { record } from './fixtures.js';

describe('recordJson', () => {
  it.each([
    { name: 'a plain record', rec: record(1) },
    {
      name: 'quotes, escapes and non-ASCII in every string',
      rec: record(2, {
        rid: 'a"b\\c',
        channel: 'ch\nnel',
        time: '2026-01-02T03:04:05.000Z\u2028',
        host: { id: 'h"1', name: 'wéb-1', ip: '::1', cloudId: 7 },
        fields: { msg: 'x\u0000y', nested: { a: [1, null, true] }, emoji: '😀' },
      }),
    },
    { name: 'empty fields', rec: record(3, { fields: {} }) },
  ])('gives what JSON.stringify gives for $name', ({ rec }) => {
    expect(recordJson(rec)).toBe(JSON.stringify(rec));
    expect(JSON.parse(recordJson(rec))).toEqual(rec);
  });

  it('serialises each record with the host it carries when records share or differ in host objects', () => {
    const shared = { id: 'a', name: 'a', ip: '10.0.0.1', cloudId: 0 };
    const recs = [record(1, { host: shared }), record(2, { host: shared }), record(3)];
    expect(recs.map((r) => serializeRecord(r, 'json', () => ({ rawId: 1, timezoneHours: 0 })))).toEqual(
      recs.map((r) => JSON.stringify(r)),
    );
  });
});
