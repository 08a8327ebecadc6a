import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadRevisionFromDir } from '../../src/spec/load.js';
import { formatSpecError } from '../../src/spec/types.js';

const FLEET = fileURLToPath(new URL('../../examples/fleet', import.meta.url));

describe('examples/fleet', () => {
  it.skipIf(!existsSync(FLEET))('loads without errors when the example fleet exists', async () => {
    const result = await loadRevisionFromDir(FLEET);
    expect(result.ok ? [] : result.errors.map(formatSpecError)).toEqual([]);
    expect(result.ok && result.revision.resources.length).toBeGreaterThan(0);
  });
});
