/** `gsectl serve --artifact-dir`: a directory that is not there stops the start with the flag named. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControllerOptionsError, compileControllerOptions } from '../../src/controller/options.js';
import { GSECTL_MAIN } from '../helpers/agent-process.js';

const run = promisify(execFile);
const SECRETS = { bootstrapToken: 'bootstrap-token-0123456789', adminToken: 'admin-token-0123456789abcdef' };

describe('gsectl serve --artifact-dir', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-serve-artifacts-'));
    await writeFile(join(dir, 'a-file'), 'x');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('exits 1 naming --artifact-dir and the fix when the directory does not exist', async () => {
    const missing = join(dir, 'no-such-dir');
    const err = await run(process.execPath, [
      GSECTL_MAIN,
      'serve',
      '--repo',
      dir,
      '--state-dir',
      join(dir, 'state'),
      '--listen',
      '127.0.0.1:0',
      '--bootstrap-token',
      SECRETS.bootstrapToken,
      '--admin-token',
      SECRETS.adminToken,
      '--artifact-dir',
      missing,
    ]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toContain(`--artifact-dir: ${missing} does not exist`);
    expect(err?.stderr).toContain('mkdir -p');
  });

  it('refuses a file where a directory belongs', () => {
    expect(() =>
      compileControllerOptions({ repo: dir, ...SECRETS, artifactDir: join(dir, 'a-file') }, {}),
    ).toThrow(ControllerOptionsError);
    expect(() =>
      compileControllerOptions({ repo: dir, ...SECRETS, artifactDir: join(dir, 'a-file') }, {}),
    ).toThrow('--artifact-dir: ');
  });

  it('keeps the absolute directory, from the flag or GSE_ARTIFACT_DIR', () => {
    expect(compileControllerOptions({ repo: dir, ...SECRETS, artifactDir: dir }, {}).artifactDir).toBe(dir);
    expect(compileControllerOptions({ repo: dir, ...SECRETS }, { GSE_ARTIFACT_DIR: dir }).artifactDir).toBe(
      dir,
    );
    expect(compileControllerOptions({ repo: dir, ...SECRETS }, {}).artifactDir).toBeUndefined();
  });
});
