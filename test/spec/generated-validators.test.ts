import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GENERATED_PATH, generateSpecValidators } from '../../scripts/gen-spec-validators.mjs';
import { SPEC_VALIDATORS } from '../../src/spec/generated/spec-validators.js';
import { KINDS } from '../../src/spec/types.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('src/spec/generated/spec-validators.ts', () => {
  it('is what the generator makes from specs/*.schema.json now (stale when a schema changed: npm run build)', () => {
    const committed = readFileSync(`${ROOT}${GENERATED_PATH}`, 'utf8');
    // Compared whole (not by digest) so a change of ajv or of the generator shows up too.
    expect(committed === generateSpecValidators(), `${GENERATED_PATH} is stale: run npm run build`).toBe(
      true,
    );
  });

  it('holds one validator per kind, with no require() left for ESM', () => {
    expect(Object.keys(SPEC_VALIDATORS).sort()).toEqual([...KINDS].sort());
    expect(readFileSync(`${ROOT}${GENERATED_PATH}`, 'utf8')).not.toMatch(/\brequire\(/);
  });
});
