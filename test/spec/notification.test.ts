/** The Notification kind: what loads, how it is normalised, and the errors bad input gets. */
import { describe, expect, it } from 'vitest';
import { loadRevision } from '../../src/spec/load.js';
import { formatSpecError, type LoadResult } from '../../src/spec/types.js';

function tree(spec: string): Map<string, Buffer> {
  const doc = `apiVersion: gse/v1\nkind: Notification\nmetadata: { name: ops }\nspec:\n${spec}`;
  return new Map([['notify.yaml', Buffer.from(doc)]]);
}

function errors(result: LoadResult): string[] {
  return result.ok ? [] : result.errors.map(formatSpecError);
}

const GOOD = [
  '  on: [revision.rejected, drift.detected, drift.detected]',
  '  hosts: { matchLabels: { role: web } }',
  '  url: https://hooks.example.com/gse',
  '  secretFrom: { env: NOTIFY_SECRET }',
  '',
].join('\n');

describe('Notification', () => {
  it('loads, with each outcome listed once in the vocabulary order', () => {
    const result = loadRevision(tree(GOOD), { secrets: { env: ['NOTIFY_SECRET'] } });
    expect(errors(result)).toEqual([]);
    if (!result.ok) return;
    const [n] = result.revision.byKind.Notification;
    expect(n?.spec).toEqual({
      on: ['drift.detected', 'revision.rejected'],
      hosts: { matchLabels: { role: 'web' } },
      url: 'https://hooks.example.com/gse',
      secretFrom: { env: 'NOTIFY_SECRET' },
    });
  });

  it.each([
    {
      name: 'an unknown outcome',
      spec: '  on: [drift.detect]\n  url: https://h.example.com/x\n  secretFrom: { env: NOTIFY_SECRET }\n',
      error: /notify\.yaml:5:\d+: spec\.on\[0\]: .*drift\.detected/,
    },
    {
      name: 'a URL that is not http(s)',
      spec: '  on: [drift.detected]\n  url: ftp://h.example.com/x\n  secretFrom: { env: NOTIFY_SECRET }\n',
      error:
        /notify\.yaml:6:8: spec\.url: invalid value "ftp:\/\/h\.example\.com\/x": must be an http:\/\/ or https:\/\/ URL/,
    },
    {
      name: 'a literal secret',
      spec: '  on: [drift.detected]\n  url: https://h.example.com/x\n  secret: hunter2hunter2\n  secretFrom: { env: NOTIFY_SECRET }\n',
      error: /literal secret "secret" is not allowed in Git/,
    },
    {
      name: 'a secret the controller does not allow',
      spec: '  on: [drift.detected]\n  url: https://h.example.com/x\n  secretFrom: { env: OTHER_SECRET }\n',
      error: /spec\.secretFrom: .*OTHER_SECRET.*--secret-env/,
    },
    {
      name: 'no secret',
      spec: '  on: [drift.detected]\n  url: https://h.example.com/x\n',
      error: /secretFrom/,
    },
  ])('refuses $name, naming the file, line and field', ({ spec, error }) => {
    const result = loadRevision(tree(spec), { secrets: { env: ['NOTIFY_SECRET'] } });
    expect(result.ok).toBe(false);
    expect(errors(result).join('\n')).toMatch(error);
  });
});
