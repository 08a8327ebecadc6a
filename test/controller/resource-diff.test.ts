import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { desiredDiff, reportedDiff } from '../../src/controller/resource-diff.js';
import type { ManifestConfigFile, ManifestProcessWatch } from '../../src/protocol/manifest.js';
import type { ItemReport } from '../../src/protocol/messages.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function file(content: string, extra: Partial<ManifestConfigFile> = {}): ManifestConfigFile {
  return {
    kind: 'ConfigFile',
    name: 'app',
    hash: 'h1',
    path: '/etc/app.conf',
    content,
    encoding: 'utf8',
    contentHash: sha(content),
    mode: 0o644,
    selfHeal: false,
    prune: true,
    ...extra,
  };
}

function report(extra: Partial<ItemReport>): ItemReport {
  return { kind: 'ConfigFile', name: 'app', hash: 'h1', state: 'drifted', ...extra };
}

describe('reportedDiff', () => {
  it('shows a unified diff of the text the host reported against the desired text', () => {
    const d = reportedDiff(
      'web-1',
      file('a\nb\n'),
      report({
        observedHash: sha('a\nB\n'),
        observed: { exists: true, size: 4, mode: 0o644, content: 'a\nB\n' },
      }),
    );
    expect(d).toEqual({
      key: 'ConfigFile/app',
      changes: [],
      diff: '--- web-1:/etc/app.conf (on the host)\n+++ git:/etc/app.conf (desired)\n@@ -1,2 +1,2 @@\n a\n-B\n+b\n',
    });
  });

  it.each([
    {
      name: 'a private file',
      item: file('key\n', { mode: 0o600 }),
      seen: { exists: true, size: 7, mode: 0o600, contentOmitted: 'private' as const },
      change: `content differs (private): 7 -> 4 bytes, sha256 ${sha('other\n').slice(0, 12)} -> ${sha('key\n').slice(0, 12)}`,
    },
    {
      name: 'a binary file',
      item: file(Buffer.from('key\n').toString('base64'), { encoding: 'base64', contentHash: sha('key\n') }),
      seen: { exists: true, size: 7, mode: 0o644, contentOmitted: 'binary' as const },
      change: `content differs (binary): 7 -> 4 bytes, sha256 ${sha('other\n').slice(0, 12)} -> ${sha('key\n').slice(0, 12)}`,
    },
  ])('gives sizes and hashes, never text, for $name', ({ item, seen, change }) => {
    const d = reportedDiff('web-1', item, report({ observedHash: sha('other\n'), observed: seen }));
    expect(d.changes).toEqual([change]);
    expect(d.diff).toBeUndefined();
  });

  it('names a mode change and a missing file', () => {
    const mode = reportedDiff(
      'h',
      file('x\n'),
      report({ observedHash: sha('x\n'), observed: { exists: true, size: 2, mode: 0o600, content: 'x\n' } }),
    );
    expect(mode.changes).toEqual(['mode 0600 -> 0644']);
    const gone = reportedDiff('h', file('x\n'), report({ observedHash: '', observed: { exists: false } }));
    expect(gone.changes).toEqual(['/etc/app.conf: absent on the host']);
    expect(gone.diff).toContain('@@ -0,0 +1,1 @@\n+x\n');
  });

  it('says a process that must run is down', () => {
    const watch: ManifestProcessWatch = {
      kind: 'ProcessWatch',
      name: 'nginx',
      hash: 'p',
      process: { name: 'nginx' },
      ensure: 'running',
      probeIntervalMs: 1000,
    };
    const d = reportedDiff('h', watch, {
      kind: 'ProcessWatch',
      name: 'nginx',
      hash: 'p',
      state: 'failed',
      process: { running: false, pids: [] },
    });
    expect(d.changes).toEqual(['process: not running; wanted running']);
  });

  it('falls back to the reported message when nothing was observed', () => {
    const d = reportedDiff('h', file('x\n'), report({ state: 'failed', message: 'EACCES' }));
    expect(d.changes).toEqual(['EACCES']);
  });
});

describe('desiredDiff', () => {
  it('diffs the text of two desired versions and names mode and owner changes', () => {
    const d = desiredDiff(file('a\n'), file('b\n', { mode: 0o640, owner: 'app:app' }));
    expect(d.changes).toEqual([
      'mode 0644 -> 0640',
      'owner unset -> app:app',
      `content (private, not shown): 2 -> 2 bytes, sha256 ${sha('a\n').slice(0, 12)} -> ${sha('b\n').slice(0, 12)}`,
    ]);
    // The new side is private: no text from either side.
    expect(d.diff).toBeUndefined();
    const shown = desiredDiff(file('a\n'), file('b\n'));
    expect(shown.diff).toBe('--- applied:/etc/app.conf\n+++ tree:/etc/app.conf\n@@ -1,1 +1,1 @@\n-a\n+b\n');
  });

  it('lists changed fields of items without content', () => {
    const a: ManifestProcessWatch = {
      kind: 'ProcessWatch',
      name: 'n',
      hash: '1',
      process: { name: 'nginx' },
      ensure: 'observed',
      probeIntervalMs: 1000,
    };
    expect(desiredDiff(a, { ...a, hash: '2', ensure: 'running' }).changes).toEqual([
      'ensure: "observed" -> "running"',
    ]);
  });
});
