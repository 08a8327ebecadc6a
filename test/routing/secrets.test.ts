import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretError } from '../../src/routing/errors.js';
import { createSecretResolver, REDACTED, redact, redactUrl } from '../../src/routing/secrets.js';
import { tempDir } from './fixtures.js';

describe('createSecretResolver', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
  });

  it('resolves an env ref from the injected env when it is set', async () => {
    const resolve = createSecretResolver({ env: { REDIS_PW: ' s3cret\n' } });
    expect(await resolve({ env: 'REDIS_PW' })).toBe('s3cret');
  });

  it('reads and trims a file ref when the file exists', async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    const path = join(t.dir, 'pw');
    await writeFile(path, 'filepw\n');
    expect(await createSecretResolver({ env: {} })({ file: path })).toBe('filepw');
  });

  it('throws a SecretError naming the ref but not the value when the env var is missing or empty', async () => {
    const resolve = createSecretResolver({ env: { EMPTY: '  ' } });
    await expect(resolve({ env: 'MISSING' })).rejects.toThrow(new SecretError('env:MISSING', 'not set'));
    const err = await resolve({ env: 'EMPTY' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretError);
    expect((err as SecretError).code).toBe('SECRET_UNRESOLVED');
    expect((err as SecretError).message).toBe('secret env:EMPTY: empty');
  });

  it('throws a SecretError with the errno and the cause when the file is unreadable', async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    const path = join(t.dir, 'absent');
    const err = (await createSecretResolver({ env: {} })({ file: path }).catch(
      (e: unknown) => e,
    )) as SecretError;
    expect(err).toBeInstanceOf(SecretError);
    expect(err.message).toBe(`secret file:${path}: cannot read (ENOENT)`);
    expect(err.cause).toBeDefined();
    if (process.getuid?.() !== 0) {
      const locked = join(t.dir, 'locked');
      await writeFile(locked, 'x');
      await chmod(locked, 0);
      await expect(createSecretResolver({ env: {} })({ file: locked })).rejects.toThrow(
        'cannot read (EACCES)',
      );
    }
  });
});

describe('redact', () => {
  it('replaces every occurrence of each secret when printing text', () => {
    expect(redact('user=a pass=pw1 again pw1 other=pw2', ['pw1', 'pw2', ''])).toBe(
      `user=a pass=${REDACTED} again ${REDACTED} other=${REDACTED}`,
    );
  });

  it('hides a URL password when the URL carries one', () => {
    expect(redactUrl('redis://:hunter2@10.0.0.1:6379/0')).toBe(`redis://:${REDACTED}@10.0.0.1:6379/0`);
    expect(redactUrl('redis://10.0.0.1:6379')).toBe('redis://10.0.0.1:6379');
    expect(redactUrl('not a url')).toBe('not a url');
  });
});
