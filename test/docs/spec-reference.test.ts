import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderSpecReference } from '../../src/spec/reference-doc.js';

describe('docs/spec-reference.md', () => {
  it('matches what the schemas render (run `npm run docs` when a schema changes)', () => {
    const onDisk = readFileSync(new URL('../../docs/spec-reference.md', import.meta.url), 'utf8');
    expect(onDisk).toBe(renderSpecReference());
  });

  it('documents every field of every kind', () => {
    const text = renderSpecReference();
    for (const field of [
      'spec.onChange',
      'spec.syncPolicy',
      'spec.filters',
      'spec.rollout',
      'spec.process',
      'spec.match',
      'spec.redis.maxLen',
    ]) {
      expect(text).toContain(`\`${field}`);
    }
    for (const type of ['process.down', 'process.restart_failed', 'disk.full', 'corefile', 'agent.lost'])
      expect(text).toContain(`### ${type}\n`);
    expect(text).toContain('| `process` (required) | string |');
  });
});
