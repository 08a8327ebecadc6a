import { chmod, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ConvergeDeps, convergeManifest } from '../../../agent/engine/converge.js';
import { dryRunManifest } from '../../../agent/engine/dry-run.js';
import { observedFileReport } from '../../../agent/engine/observe-report.js';
import { OBSERVED_CONTENT_MAX_BYTES } from '../../../src/protocol/messages.js';
import { configFile, convergeDepsIn, manifest, type Sandbox, sandbox, sha256 } from './helpers.js';

describe('observedFileReport', () => {
  const found = (content: string | Buffer, mode = 0o644) => {
    const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
    return { content: bytes, hash: sha256(bytes), mode, uid: 0, gid: 0, nlink: 1 };
  };
  const text = { encoding: 'utf8' as const, mode: 0o644 };
  it.each([
    { name: 'an absent file', item: text, file: undefined, want: { exists: false } },
    {
      name: 'a readable text file',
      item: text,
      file: found('a\n'),
      want: { exists: true, size: 2, mode: 0o644, content: 'a\n' },
    },
    {
      name: 'a binary item',
      item: { encoding: 'base64' as const, mode: 0o644 },
      file: found('a\n'),
      want: { exists: true, size: 2, mode: 0o644, contentOmitted: 'binary' },
    },
    {
      name: 'an item declared private (0600)',
      item: { encoding: 'utf8' as const, mode: 0o600 },
      file: found('secret\n'),
      want: { exists: true, size: 7, mode: 0o644, contentOmitted: 'private' },
    },
    {
      name: 'a file the host keeps private',
      item: text,
      file: found('secret\n', 0o640),
      want: { exists: true, size: 7, mode: 0o640, contentOmitted: 'private' },
    },
    {
      name: 'bytes that are not text',
      item: text,
      file: found(Buffer.from([0x61, 0, 0x62])),
      want: { exists: true, size: 3, mode: 0o644, contentOmitted: 'binary' },
    },
    {
      name: 'a file over the bound',
      item: text,
      file: found('x'.repeat(OBSERVED_CONTENT_MAX_BYTES + 1)),
      want: { exists: true, size: OBSERVED_CONTENT_MAX_BYTES + 1, mode: 0o644, contentOmitted: 'too large' },
    },
  ])('reports $name', ({ item, file, want }) => {
    expect(observedFileReport(item, file)).toEqual(want);
  });
});

describe('dryRunManifest', () => {
  let box: Sandbox;
  let deps: ConvergeDeps;
  let counter: string;
  beforeEach(async () => {
    box = await sandbox('gse-dry-run-');
    counter = join(box.dir, 'onchange.count');
    deps = await convergeDepsIn(box.dir);
  });
  afterEach(() => box.cleanup());

  const onChange = { onChange: { run: `echo ran >> ${'$GSE_ROOT'}/../onchange.count`, timeoutMs: 10_000 } };

  it('says what would change and touches nothing', async () => {
    const keep = configFile('keep', '/etc/keep.conf', 'same\n');
    const edit = configFile('edit', '/etc/edit.conf', 'new line\n', onChange);
    const old = configFile('old', '/etc/old.conf', 'old\n');
    const held = manifest([keep, configFile('edit', '/etc/edit.conf', 'old line\n'), old]);
    await convergeManifest(held, undefined, deps);
    const etc = join(deps.root, 'etc');
    await chmod(join(etc, 'keep.conf'), 0o600);
    const before = await snapshot(etc);

    const added = configFile('added', '/etc/added.conf', 'hello\n');
    const result = await dryRunManifest(manifest([keep, edit, added]), held, deps);

    expect(result.items.map((i) => [i.name, i.state, i.message])).toEqual([
      ['keep', 'changed', 'mode 0600 -> 0644'],
      ['edit', 'changed', `would change content; onChange would run: ${edit.onChange?.run}`],
      ['added', 'changed', 'would create /etc/added.conf'],
      ['old', 'changed', 'would remove /etc/old.conf (left the manifest)'],
    ]);
    expect(result.items[1]?.observed).toEqual({ exists: true, size: 9, mode: 0o644, content: 'old line\n' });
    expect(result.items[2]?.observed).toEqual({ exists: false });
    expect(result.pruned).toEqual(['ConfigFile/old']);
    // Nothing written, removed, chmod-ed or run.
    expect(await snapshot(etc)).toEqual(before);
    expect(await readFile(counter, 'utf8').catch(() => 'absent')).toBe('absent');
    expect(deps.ownership.paths().has('/etc/added.conf')).toBe(false);
  });

  it('reports ok for a host that already matches', async () => {
    const m = manifest([configFile('a', '/etc/a.conf', 'A\n')]);
    await convergeManifest(m, undefined, deps);
    const result = await dryRunManifest(m, m, deps);
    expect(result.items.map((i) => [i.name, i.state])).toEqual([['a', 'ok']]);
    expect(result.pruned).toEqual([]);
  });

  it('says a path it may not write would fail', async () => {
    await mkdir(join(deps.root, 'etc'), { recursive: true });
    const m = manifest([configFile('s', '/var/lib/gse-agent/x', 'x')]);
    const inState = { ...deps, stateDir: join(deps.root, 'var/lib/gse-agent') };
    const result = await dryRunManifest(m, undefined, inState);
    expect(result.items[0]?.state).toBe('failed');
    expect(result.items[0]?.message).toMatch(/^would fail: /);
  });
});

/** Every file under dir with its content and mode. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    const p = join(dir, name);
    out[name] = `${(await stat(p)).mode.toString(8)}:${await readFile(p, 'utf8')}`;
  }
  return out;
}
