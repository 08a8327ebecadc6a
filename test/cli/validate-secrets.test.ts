/** `gsectl validate --secret-env/--secret-dir` checks secret references as the controller does. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/commands/validate.js';

const TARGET = `apiVersion: gse/v1
kind: StreamTarget
metadata: { name: cache }
spec:
  redis:
    url: redis://127.0.0.1:6379
    mode: stream
    key: events
    passwordFrom: { env: REDIS_PASSWORD }
`;

describe('gsectl validate', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-validate-'));
    await writeFile(join(dir, 'target.yaml'), TARGET);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const validate = (values: Record<string, string>) =>
    run({ positionals: [dir], values, rest: [] } as unknown as Parameters<typeof run>[0]);

  it('leaves secret references unchecked when no allow-list is given', async () => {
    expect((await validate({})).exitCode).toBe(0);
  });

  it('refuses a reference the allow-list does not name when --secret-env is given', async () => {
    const result = await validate({ 'secret-env': 'OTHER_PASSWORD' });
    expect(result.exitCode).toBe(1);
    const text = JSON.stringify(result.data);
    expect(text).toContain('REDIS_PASSWORD');
    expect(text).toContain('OTHER_PASSWORD');
  });

  it('accepts the reference when --secret-env names it', async () => {
    expect((await validate({ 'secret-env': 'OTHER, REDIS_PASSWORD' })).exitCode).toBe(0);
  });
});
