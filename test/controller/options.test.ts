import { describe, expect, it } from 'vitest';
import { ControllerOptionsError, compileControllerOptions } from '../../src/controller/options.js';
import { DEFAULT_MAX_REVISION_BYTES, DEFAULT_MAX_SPEC_FILE_BYTES } from '../../src/spec/limits.js';

const REQUIRED = {
  repo: '/srv/fleet',
  bootstrapToken: 'bootstrap-token-0123456789',
  adminToken: 'admin-token-0123456789abcdef',
};

describe('compileControllerOptions (repo-content limits and secrets)', () => {
  it('allows no secrets and uses the default size limits when nothing is set', () => {
    const o = compileControllerOptions(REQUIRED, {});
    expect(o.secretEnv).toEqual([]);
    expect(o.secretDir).toBeUndefined();
    expect(o.maxSpecFileBytes).toBe(DEFAULT_MAX_SPEC_FILE_BYTES);
    expect(o.maxRevisionBytes).toBe(DEFAULT_MAX_REVISION_BYTES);
  });

  it('reads GSE_SECRET_ENV (comma-separated) and GSE_SECRET_DIR when no option is given', () => {
    const o = compileControllerOptions(REQUIRED, {
      GSE_SECRET_ENV: 'REDIS_PW, KAFKA_PW,',
      GSE_SECRET_DIR: '/etc/gse/secrets/',
    });
    expect(o.secretEnv).toEqual(['REDIS_PW', 'KAFKA_PW']);
    expect(o.secretDir).toBe('/etc/gse/secrets');
  });

  it('prefers the options to the environment', () => {
    const o = compileControllerOptions(
      { ...REQUIRED, secretEnv: ['A'], secretDir: '/s', maxSpecFileBytes: 10, maxRevisionBytes: 20 },
      { GSE_SECRET_ENV: 'B', GSE_SECRET_DIR: '/t' },
    );
    expect(o).toMatchObject({
      secretEnv: ['A'],
      secretDir: '/s',
      maxSpecFileBytes: 10,
      maxRevisionBytes: 20,
    });
  });

  const invalid: Array<{ name: string; input: object; error: string }> = [
    {
      name: 'a secret env name with a space',
      input: { secretEnv: ['BAD NAME'] },
      error: '--secret-env: "BAD NAME" is not an environment variable name',
    },
    {
      name: 'a spec file limit that is not a number',
      input: { maxSpecFileBytes: Number('1mb') },
      error: '--max-spec-file-bytes: must be a whole number of bytes above 0, not NaN',
    },
    {
      name: 'a zero revision limit',
      input: { maxRevisionBytes: 0 },
      error: '--max-revision-bytes: must be a whole number of bytes above 0, not 0',
    },
  ];
  it.each(invalid)('throws ControllerOptionsError for $name', ({ input, error }) => {
    expect(() => compileControllerOptions({ ...REQUIRED, ...input }, {})).toThrow(
      new ControllerOptionsError(error.split(':')[0] as string, error.slice(error.indexOf(':') + 2)),
    );
  });
});

describe('compileControllerOptions (--callback-secret-env)', () => {
  it('reads the callback secret from the variable it names, and has none without it', () => {
    expect(compileControllerOptions(REQUIRED, {}).callbackSecret).toBeUndefined();
    const o = compileControllerOptions(
      { ...REQUIRED, callbackSecretEnv: 'CB_SECRET' },
      { CB_SECRET: ' cb-secret-0123456789abcdef \n' },
    );
    expect(o.callbackSecret).toBe('cb-secret-0123456789abcdef');
  });

  it.each([
    {
      name: 'an unset variable',
      env: {},
      error: /--callback-secret-env: CB_SECRET is not set; export CB_SECRET=/,
    },
    { name: 'a short secret', env: { CB_SECRET: 'short' }, error: /at least 16 characters/ },
  ])('refuses $name, naming the flag and the fix', ({ env, error }) => {
    expect(() => compileControllerOptions({ ...REQUIRED, callbackSecretEnv: 'CB_SECRET' }, env)).toThrow(
      error,
    );
  });
});

describe('compileControllerOptions (--gse-write-back)', () => {
  it('is off by default, and pushes to the followed repo unless --gse-write-repo names another', () => {
    expect(compileControllerOptions(REQUIRED, {})).toMatchObject({ gseWriteBack: false });
    expect(compileControllerOptions(REQUIRED, {}).gseWriteRepo).toBeUndefined();
    const on = compileControllerOptions(REQUIRED, {
      GSE_WRITE_BACK: '1',
      GSE_WRITE_REPO: 'git@git.example:ops/fleet.git',
    });
    expect(on).toMatchObject({ gseWriteBack: true, gseWriteRepo: 'git@git.example:ops/fleet.git' });
    expect(
      compileControllerOptions({ ...REQUIRED, gseWriteBack: true, gseWriteRepo: 'rel/repo' }, {})
        .gseWriteRepo,
    ).toMatch(/^\/.*\/rel\/repo$/);
  });

  it('refuses write-back with --verify-signatures, whose check its unsigned commits would fail', () => {
    expect(() =>
      compileControllerOptions({ ...REQUIRED, gseWriteBack: true, verifySignatures: true }, {}),
    ).toThrow(
      new ControllerOptionsError(
        '--gse-write-back',
        'cannot be used with --verify-signatures: the commits it makes are not signed, so the controller would reject them',
      ),
    );
  });
});
