import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadRevision, loadRevisionFromDir, readTreeChecked } from '../../src/spec/load.js';
import { isSecretKeyName, urlHasPassword } from '../../src/spec/secrets.js';
import { formatSpecError, type LoadResult } from '../../src/spec/types.js';
import { CONFIG_FILE, memTree, STREAM_TARGET, type TempTree, tempTree, yaml } from './helpers.js';

function errorsOf(result: LoadResult): string[] {
  return result.ok ? [] : result.errors.map(formatSpecError);
}

/** A ConfigFile named `name` with `source` (10 lines; source on line 8). */
function sourced(name: string, source: string, extra = ''): string {
  return yaml(
    'apiVersion: gse/v1',
    'kind: ConfigFile',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  hosts: { names: ["*"] }',
    `  path: /etc/${name}`,
    `  source: ${source}`,
    ...(extra ? [extra] : []),
  );
}

describe('secret key names', () => {
  const table: Array<{ key: string; secret: boolean }> = [
    { key: 'password', secret: true },
    { key: 'DB_PASSWORD', secret: true },
    { key: 'passwd', secret: true },
    { key: 'pass', secret: true },
    { key: 'apiToken', secret: true },
    { key: 'API_TOKEN', secret: true },
    { key: 'secret', secret: true },
    { key: 'mysecret', secret: true },
    { key: 'clientSecret', secret: true },
    { key: 'auth', secret: true },
    { key: 'basicAuth', secret: true },
    { key: 'Authorization', secret: true },
    { key: 'apiKey', secret: true },
    { key: 'apikey', secret: true },
    { key: 'SECRET_KEY', secret: true },
    { key: 'access-key', secret: true },
    { key: 'privateKey', secret: true },
    { key: 'private_key_pem', secret: true },
    { key: 'credentials', secret: true },
    { key: 'passphrase', secret: true },
    // Not secrets: names that merely contain the words.
    { key: 'key', secret: false },
    { key: 'keyField', secret: false },
    { key: 'maxKeys', secret: false },
    { key: 'keepalive', secret: false },
    { key: 'author', secret: false },
    { key: 'bypass', secret: false },
    { key: 'tokenTtl', secret: false },
    { key: 'passwordFrom', secret: false },
    { key: 'username', secret: false },
    { key: 'labelKey', secret: false },
    { key: 'secretName', secret: false },
    { key: 'compass', secret: false },
  ];
  it.each(table)('says $key is a secret name: $secret', ({ key, secret }) => {
    expect(isSecretKeyName(key)).toBe(secret);
  });
});

describe('URLs with credentials', () => {
  const table: Array<{ url: string; has: boolean }> = [
    { url: 'redis://:hunter2@10.0.0.1:6379/0', has: true },
    { url: 'redis://user:pw@redis:6379', has: true },
    { url: 'https://ci:token@git.example.com/repo.git', has: true },
    { url: 'redis://10.0.0.1:6379/0', has: false },
    { url: 'redis://default@10.0.0.1:6379', has: false },
    { url: 'kafka-1:9092', has: false },
    { url: 'see redis://:pw@h in the docs', has: false },
  ];
  it.each(table)('says $url carries a password: $has', ({ url, has }) => {
    expect(urlHasPassword(url)).toBe(has);
  });

  it('refuses a Redis URL with a password at its file:line', () => {
    const text = STREAM_TARGET.replace('redis://127.0.0.1:6379/0', 'redis://:hunter2@127.0.0.1:6379/0');
    expect(errorsOf(loadRevision(memTree({ 'a.yaml': text })))).toEqual([
      'a.yaml:7:10: spec.redis.url: URL carries a password; remove it from the URL and reference the secret instead, e.g. passwordFrom: {env: REDIS_PASSWORD} (allowed on the controller with --secret-env)',
    ]);
  });

  it('refuses a literal under a secret-looking key, and accepts a Redis stream key', () => {
    const text = `${STREAM_TARGET}    apiKey: abc123\n`;
    expect(errorsOf(loadRevision(memTree({ 'a.yaml': text })))[0]).toContain(
      'a.yaml:9:5: spec.redis.apiKey: literal secret "apiKey" is not allowed in Git',
    );
    expect(loadRevision(memTree({ 'a.yaml': STREAM_TARGET })).ok).toBe(true);
  });
});

describe('secret references against the controller policy', () => {
  const withRef = (ref: string) => memTree({ 'a.yaml': `${STREAM_TARGET}    passwordFrom: ${ref}\n` });

  it('accepts an allowed env name and a file directly in the secret dir', () => {
    const secrets = { env: ['REDIS_PW'], dir: '/etc/gse/secrets' };
    expect(loadRevision(withRef('{ env: REDIS_PW }'), { secrets }).ok).toBe(true);
    expect(loadRevision(withRef('{ file: redis }'), { secrets }).ok).toBe(true);
    expect(loadRevision(withRef('{ file: /etc/gse/secrets/redis }'), { secrets }).ok).toBe(true);
  });

  const refused: Array<{ name: string; ref: string; error: string }> = [
    {
      name: 'an env name not on the list',
      ref: '{ env: GSE_ADMIN_TOKEN }',
      error:
        'a.yaml:9:5: spec.redis.passwordFrom: secret env "GSE_ADMIN_TOKEN" is not allowed on this controller (allowed: env REDIS_PW; files directly in /etc/gse/secrets); reference an allowed variable, or have the operator add it with gsectl serve --secret-env GSE_ADMIN_TOKEN',
    },
    {
      name: 'a file outside the secret dir',
      ref: '{ file: /etc/shadow }',
      error:
        'a.yaml:9:5: spec.redis.passwordFrom: secret file "/etc/shadow" is not directly in the secret dir /etc/gse/secrets (allowed: env REDIS_PW; files directly in /etc/gse/secrets); name a file directly in the secret dir, e.g. {file: redis-password}',
    },
    {
      name: 'a ".." escape',
      ref: '{ file: ../../proc/self/environ }',
      error: 'is not a plain file name in the secret dir /etc/gse/secrets',
    },
    {
      name: 'a file in a subdirectory',
      ref: '{ file: /etc/gse/secrets/sub/x }',
      error: 'is not directly in the secret dir',
    },
  ];
  it.each(refused)('refuses $name', ({ ref, error }) => {
    const result = loadRevision(withRef(ref), { secrets: { env: ['REDIS_PW'], dir: '/etc/gse/secrets' } });
    expect(errorsOf(result).join('\n')).toContain(error);
  });

  it('names "no files" when the controller has no secret dir', () => {
    const result = loadRevision(withRef('{ file: redis }'), { secrets: { env: [] } });
    expect(errorsOf(result)[0]).toContain(
      'is not allowed: this controller has no --secret-dir (allowed: no env variables; no files (no --secret-dir))',
    );
  });
});

describe('symlinks in the spec tree', () => {
  let tree: TempTree | undefined;
  afterEach(async () => {
    await tree?.cleanup();
    tree = undefined;
  });

  it('records a symlink as such and never reads through it', async () => {
    tree = await tempTree({ 'files/real': 'ok' });
    await symlink('/proc/self/cmdline', join(tree.dir, 'files/x'));
    const read = await readTreeChecked(tree.dir);
    expect([...read.files.keys()]).toEqual(['files/real']);
    expect(read.symlinks.get('files/x')).toBe('/proc/self/cmdline');
  });

  it('rejects a ConfigFile source that is a symlink, at its file:line, naming the fix', async () => {
    tree = await tempTree({ 'a.yaml': sourced('leak', 'files/x') });
    await mkdir(join(tree.dir, 'files'));
    await symlink('/proc/self/cmdline', join(tree.dir, 'files/x'));
    expect(errorsOf(await loadRevisionFromDir(tree.dir))).toEqual([
      'a.yaml:8:11: spec.source: "files/x" is a symlink (-> /proc/self/cmdline); sources must be regular files in the repo: commit the file itself instead of a link',
    ]);
  });

  it('rejects a source under a symlinked directory that points outside the checkout', async () => {
    tree = await tempTree({ 'a.yaml': sourced('leak', 'files/etc/passwd') });
    await mkdir(join(tree.dir, 'files'));
    await symlink('/etc', join(tree.dir, 'files/etc'));
    expect(errorsOf(await loadRevisionFromDir(tree.dir))[0]).toContain(
      'a.yaml:8:11: spec.source: "files/etc/passwd" is under "files/etc", a symlink (-> /etc)',
    );
  });

  it('ignores a symlink nothing references', async () => {
    tree = await tempTree({ 'a.yaml': CONFIG_FILE });
    await symlink('/etc/passwd', join(tree.dir, 'unused'));
    expect((await loadRevisionFromDir(tree.dir)).ok).toBe(true);
  });
});

describe('size and alias limits', () => {
  it('refuses a spec file over the per-file limit without parsing it', () => {
    const big = `${CONFIG_FILE}# ${'x'.repeat(2000)}\n`;
    const result = loadRevision(memTree({ 'big.yaml': big }), { limits: { maxSpecFileBytes: 1024 } });
    expect(errorsOf(result)).toEqual([
      'big.yaml:1:1: spec file is 2.1 KiB, over the limit of 1 KiB per file; split it into smaller files (or raise --max-spec-file-bytes)',
    ]);
  });

  it('refuses a tree over the per-revision limit before reading it', async () => {
    const tree = await tempTree({ 'a.yaml': CONFIG_FILE, 'files/blob': Buffer.alloc(4096) });
    try {
      const result = await loadRevisionFromDir(tree.dir, { limits: { maxRevisionBytes: 2048 } });
      expect(errorsOf(result)[0]).toMatch(
        /^\.:1:1: the spec tree holds 4\.\d KiB in 2 files, over the limit of 2 KiB per revision; keep large binaries out/,
      );
    } finally {
      await tree.cleanup();
    }
  });

  it('refuses an in-memory tree over the per-revision limit without parsing it', () => {
    const result = loadRevision(memTree({ 'a.yaml': CONFIG_FILE, 'files/blob': Buffer.alloc(4096) }), {
      limits: { maxRevisionBytes: 2048 },
    });
    expect(errorsOf(result)).toEqual([
      expect.stringMatching(/^\.:1:1: the spec tree holds 4\.\d KiB, over the limit of 2 KiB per revision/),
    ]);
  });

  it('refuses a document whose aliases expand past the cap ("billion laughs")', () => {
    // Six aliases only, but each copies a 3,000-item anchor.
    const anchor = `a: &a [${Array(3000).fill('x').join(', ')}]`;
    const text = `${anchor}\nb: [${Array(6).fill('*a').join(', ')}]\n`;
    const result = loadRevision(memTree({ 'bomb.yaml': text }));
    expect(errorsOf(result)[0]).toMatch(/^bomb\.yaml:\d+:\d+: YAML: aliases expand to more than 10000 nodes/);
  });

  it('refuses more than 100 aliases in one document', () => {
    const text = `a: &a x\nlist: [${Array(101).fill('*a').join(', ')}]\n`;
    expect(errorsOf(loadRevision(memTree({ 'many.yaml': text })))[0]).toContain(
      'YAML: too many alias expansions: more than 100 aliases in this document',
    );
  });

  it('refuses ConfigFile content too large for a manifest frame, naming the item and the fix', async () => {
    const tree = await tempTree({ 'a.yaml': sourced('huge', 'files/huge.bin') });
    try {
      await mkdir(join(tree.dir, 'files'));
      await writeFile(join(tree.dir, 'files/huge.bin'), Buffer.alloc(5 * 1024 * 1024, 0));
      expect(errorsOf(await loadRevisionFromDir(tree.dir))[0]).toContain(
        'a.yaml:8:11: spec.source: ConfigFile "huge" is 6.7 MiB in a manifest, over the limit of 2 MiB per file (a host\'s manifest must fit one agent frame)',
      );
    } finally {
      await tree.cleanup();
    }
  });
});

describe('special file modes', () => {
  const withMode = (mode: string, extra = '') =>
    memTree({ 'a.yaml': `${CONFIG_FILE}  mode: "${mode}"\n${extra}` });
  const refused: Array<{ mode: string; what: string }> = [
    { mode: '4755', what: 'setuid' },
    { mode: '2755', what: 'setgid' },
    { mode: '1777', what: 'sticky and world-writable' },
    { mode: '0666', what: 'world-writable' },
    { mode: '6755', what: 'setuid and setgid' },
  ];
  it.each(refused)('refuses mode $mode ($what) without the opt-in', ({ mode, what }) => {
    expect(errorsOf(loadRevision(withMode(mode)))).toEqual([
      `a.yaml:9:9: spec.mode: "${mode}" is ${what}; such modes are refused unless the ConfigFile sets allowSpecialModes: true (say so on purpose), or use a mode such as "0644" / "0755"`,
    ]);
  });

  it('accepts a special mode when the spec sets allowSpecialModes: true', () => {
    expect(loadRevision(withMode('4755', '  allowSpecialModes: true\n')).ok).toBe(true);
  });

  it('accepts ordinary modes', () => {
    for (const mode of ['0644', '0600', '0755', '0775']) expect(loadRevision(withMode(mode)).ok).toBe(true);
  });
});
