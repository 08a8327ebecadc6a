import { describe, expect, it } from 'vitest';
import { parseSelectorText } from '../../src/controller/selector-text.js';

describe('parseSelectorText', () => {
  const table = [
    { input: 'role=web', selector: { matchLabels: { role: 'web' } } },
    { input: 'role=web, zone=gz', selector: { matchLabels: { role: 'web', zone: 'gz' } } },
    { input: '*', selector: { names: ['*'] } },
    { input: 'web-*,name=db-1', selector: { names: ['web-*', 'db-1'] } },
    { input: 'cidr=10.0.0.0/8,cloud=2', selector: { cidrs: ['10.0.0.0/8'], cloudIds: [2] } },
    {
      input: 'canary,!legacy',
      selector: {
        matchExpressions: [
          { key: 'canary', operator: 'Exists' },
          { key: 'legacy', operator: 'DoesNotExist' },
        ],
      },
    },
  ];
  it.each(table)('parses $input', ({ input, selector }) => {
    expect(parseSelectorText(input)).toEqual({ ok: true, selector });
  });

  it.each([
    ['', 'empty selector'],
    ['role=', 'expected key=value'],
    ['cloud=x', 'cloud takes a number'],
  ])('rejects %j', (input, error) => {
    const r = parseSelectorText(input);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toContain(error);
  });
});
