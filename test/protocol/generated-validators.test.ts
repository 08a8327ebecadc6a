import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GENERATED_PATH, generateProtocolValidators } from '../../scripts/gen-protocol-validators.mjs';
import { MESSAGE_VALIDATORS } from '../../src/protocol/generated/message-validators.js';
import { SHARED_SCHEMAS } from '../../src/protocol/manifest-schema.js';
import {
  AGENT_MESSAGE_TYPES,
  CONTROLLER_MESSAGE_TYPES,
  MESSAGE_SCHEMAS,
} from '../../src/protocol/message-schema.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('src/protocol/generated/message-validators.ts', () => {
  it('is what the generator makes from the message schemas now (stale after a schema change)', () => {
    const committed = readFileSync(`${ROOT}${GENERATED_PATH}`, 'utf8');
    expect(
      committed === generateProtocolValidators(MESSAGE_SCHEMAS, SHARED_SCHEMAS),
      `${GENERATED_PATH} is stale: run npm run build, then node scripts/gen-protocol-validators.mjs`,
    ).toBe(true);
  });

  it('holds one validator per message type, with no require() and no ajv at run time', () => {
    expect(Object.keys(MESSAGE_VALIDATORS).sort()).toEqual(
      [...new Set([...AGENT_MESSAGE_TYPES, ...CONTROLLER_MESSAGE_TYPES])].sort(),
    );
    const text = readFileSync(`${ROOT}${GENERATED_PATH}`, 'utf8');
    expect(text).not.toMatch(/\brequire\(/);
    expect(text).not.toMatch(/^import (?!type )/m);
  });
});
