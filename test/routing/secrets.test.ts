import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
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
    const resolve = createSecretResolver({ env: { REDIS_PW: ' s3cret\n' }, policy: { env: ['REDIS_PW'] } });
    expect(await resolve({ env: 'REDIS_PW' })).toBe('s3cret');
  });

  it('reads and trims a file ref when the file is in the secret dir (by name or by full path)', async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    const path = join(t.dir, 'pw');
    await writeFile(path, 'filepw\n');
    const resolve = createSecretResolver({ env: {}, policy: { env: [], dir: t.dir } });
    expect(await resolve({ file: path })).toBe('filepw');
    expect(await resolve({ file: 'pw' })).toBe('filepw');
  });

  it('refuses an env ref outside the allow-list even when the variable is set', async () => {
    const resolve = createSecretResolver({
      env: { GSE_ADMIN_TOKEN: 'admin-secret', REDIS_PW: 'x' },
      policy: { env: ['REDIS_PW'] },
    });
    const err = (await resolve({ env: 'GSE_ADMIN_TOKEN' }).catch((e: unknown) => e)) as SecretError;
    expect(err).toBeInstanceOf(SecretError);
    expect(err.message).toContain('secret env "GSE_ADMIN_TOKEN" is not allowed on this controller');
    expect(err.message).toContain('allowed: env REDIS_PW');
    expect(err.message).not.toContain('admin-secret');
  });

  it('refuses every env ref when no policy is given and env is process.env', async () => {
    const resolve = createSecretResolver({ env: process.env });
    await expect(resolve({ env: 'PATH' })).rejects.toThrow('is not allowed on this controller');
  });

  it('refuses a file outside the secret dir, a ".." name, and a symlink inside it', async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    const outside = join(t.dir, 'outside');
    const dir = join(t.dir, 'secrets');
    await mkdir(dir);
    await writeFile(outside, 'stolen');
    await symlink(outside, join(dir, 'link'));
    const resolve = createSecretResolver({ env: {}, policy: { env: [], dir } });
    await expect(resolve({ file: outside })).rejects.toThrow('is not directly in the secret dir');
    await expect(resolve({ file: '../outside' })).rejects.toThrow('is not a plain file name');
    await expect(resolve({ file: '/etc/passwd' })).rejects.toThrow('is not directly in the secret dir');
    await expect(resolve({ file: 'link' })).rejects.toThrow('cannot read (ELOOP)');
    const none = createSecretResolver({ env: {}, policy: { env: [] } });
    await expect(none({ file: outside })).rejects.toThrow('this controller has no --secret-dir');
  });

  it('throws a SecretError naming the ref but not the value when the env var is missing or empty', async () => {
    const resolve = createSecretResolver({ env: { EMPTY: '  ' }, policy: { env: ['EMPTY', 'MISSING'] } });
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
    const policy = { env: [], dir: t.dir };
    const err = (await createSecretResolver({ env: {}, policy })({ file: path }).catch(
      (e: unknown) => e,
    )) as SecretError;
    expect(err).toBeInstanceOf(SecretError);
    expect(err.message).toBe(`secret file:${path}: cannot read (ENOENT)`);
    expect(err.cause).toBeDefined();
    if (process.getuid?.() !== 0) {
      const locked = join(t.dir, 'locked');
      await writeFile(locked, 'x');
      await chmod(locked, 0);
      await expect(createSecretResolver({ env: {}, policy })({ file: locked })).rejects.toThrow(
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
