import { describe, expect, it } from 'vitest';
import {
  MAX_HONOURED_RETRY_AFTER_MS,
  RETRY_AFTER_MAX_JITTER_MS,
  retryAfterDelayMs,
  retryAfterFromHeaders,
} from '../../agent/backoff.js';
import {
  ControllerTargets,
  expandTarget,
  parseControllerList,
  type ResolveAll,
} from '../../agent/controller-targets.js';

const resolver =
  (table: Record<string, string[]>): ResolveAll =>
  async (host) => {
    const addrs = table[host];
    if (!addrs) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addrs.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

describe('parseControllerList', () => {
  it.each([
    { name: 'one URL gets the agent path', input: 'wss://a:7070', out: ['wss://a:7070/agent'] },
    {
      name: 'a list keeps its order, trims and appends the path where missing',
      input: 'wss://a:7070/agent, wss://b:7070/ ,wss://c:7070',
      out: ['wss://a:7070/agent', 'wss://b:7070/agent', 'wss://c:7070/agent'],
    },
  ])('$name', ({ input, out }) => {
    expect(parseControllerList(input)).toEqual(out);
  });

  it.each([
    { name: 'an empty entry', input: 'wss://a:7070,,wss://b:7070' },
    { name: 'a trailing comma', input: 'wss://a:7070,' },
    { name: 'nothing', input: ' ' },
  ])('refuses $name, naming the flag and the expected form', ({ input }) => {
    expect(() => parseControllerList(input)).toThrow(/--controller .*comma-separated list.*no empty entries/);
  });
});

describe('expandTarget', () => {
  it('keeps an IP URL as it is, without a lookup', async () => {
    const never: ResolveAll = async () => {
      throw new Error('looked up');
    };
    expect(await expandTarget('ws://127.0.0.1:1/agent', never)).toEqual([{ url: 'ws://127.0.0.1:1/agent' }]);
    expect(await expandTarget('ws://[::1]:1/agent', never)).toEqual([{ url: 'ws://[::1]:1/agent' }]);
  });

  it('pins one target per address of a name with several, keeping the URL (and so the TLS name)', async () => {
    const r = resolver({ 'ctl.example': ['10.0.0.1', '10.0.0.2', '10.0.0.1', 'fd00::3'] });
    expect(await expandTarget('wss://ctl.example:7070/agent', r)).toEqual([
      { url: 'wss://ctl.example:7070/agent', address: '10.0.0.1', family: 4 },
      { url: 'wss://ctl.example:7070/agent', address: '10.0.0.2', family: 4 },
      { url: 'wss://ctl.example:7070/agent', address: 'fd00::3', family: 6 },
    ]);
  });

  it('leaves a name with one address, or one that does not resolve, to the system', async () => {
    const r = resolver({ one: ['10.0.0.1'] });
    expect(await expandTarget('wss://one:1/agent', r)).toEqual([{ url: 'wss://one:1/agent' }]);
    expect(await expandTarget('wss://gone:1/agent', r)).toEqual([{ url: 'wss://gone:1/agent' }]);
  });
});

describe('ControllerTargets', () => {
  it('goes round every URL and every address, from the start index, and resolves again each round', async () => {
    const table: Record<string, string[]> = { b: ['10.0.0.1', '10.0.0.2'] };
    const targets = new ControllerTargets(
      ['ws://a:1/agent', 'ws://b:1/agent', 'ws://c:1/agent'],
      resolver(table),
      1,
    );
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const t = await targets.next();
      seen.push(`${t.url}${t.address ? `@${t.address}` : ''}`);
    }
    table.b = ['10.0.0.9', '10.0.0.8'];
    for (let i = 0; i < 3; i++) {
      const t = await targets.next();
      seen.push(`${t.url}${t.address ? `@${t.address}` : ''}`);
    }
    expect(seen).toEqual([
      'ws://b:1/agent@10.0.0.1',
      'ws://b:1/agent@10.0.0.2',
      'ws://c:1/agent',
      'ws://a:1/agent',
      'ws://b:1/agent@10.0.0.9',
      'ws://b:1/agent@10.0.0.8',
      'ws://c:1/agent',
    ]);
  });

  it('refuses an empty list', () => {
    expect(() => new ControllerTargets([], resolver({}))).toThrow(/at least one controller URL/);
  });
});

describe('retryAfterFromHeaders', () => {
  const NOW = Date.parse('2026-01-01T00:00:00Z');
  it.each([
    {
      name: 'the exact ms header wins',
      headers: { 'x-retry-after-ms': '1234', 'retry-after': '9' },
      ms: 1234,
    },
    { name: 'seconds', headers: { 'retry-after': '3' }, ms: 3000 },
    { name: 'an HTTP date', headers: { 'retry-after': 'Thu, 01 Jan 2026 00:00:07 GMT' }, ms: 7000 },
    { name: 'a date in the past is now', headers: { 'retry-after': 'Wed, 31 Dec 2025 23:00:00 GMT' }, ms: 0 },
    { name: 'a huge value is capped', headers: { 'retry-after': '999999' }, ms: MAX_HONOURED_RETRY_AFTER_MS },
    {
      name: 'garbage in the ms header falls back to seconds',
      headers: { 'x-retry-after-ms': 'soon', 'retry-after': '2' },
      ms: 2000,
    },
    { name: 'garbage alone is no retry-after', headers: { 'retry-after': 'later' }, ms: undefined },
    { name: 'no header', headers: {}, ms: undefined },
  ])('$name', ({ headers, ms }) => {
    expect(retryAfterFromHeaders(headers, NOW)).toBe(ms);
  });
});

describe('retryAfterDelayMs', () => {
  it('is never sooner than the retry-after and adds at most a tenth (bounded) of jitter', () => {
    expect(retryAfterDelayMs(2_000, () => 0)).toBe(2_000);
    expect(retryAfterDelayMs(2_000, () => 0.999)).toBeLessThanOrEqual(2_200);
    expect(retryAfterDelayMs(2_000, () => 0.999)).toBeGreaterThan(2_190);
    expect(retryAfterDelayMs(100, () => 0.999)).toBe(150);
    expect(retryAfterDelayMs(60_000, () => 0.999)).toBeLessThanOrEqual(60_000 + RETRY_AFTER_MAX_JITTER_MS);
  });
});
