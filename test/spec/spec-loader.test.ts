import { describe, expect, it } from 'vitest';
import { createSpecLoader, loadRevision } from '../../src/spec/load.js';
import type { LoadResult, Revision } from '../../src/spec/types.js';
import { seededRandom } from '../helpers/random.js';
import { CONFIG_FILE, memTree, ROUTE, STREAM_TARGET } from './helpers.js';

function revisionOf(result: LoadResult): Revision {
  if (!result.ok) throw new Error(result.errors.map((e) => e.message).join('\n'));
  return result.revision;
}

describe('createSpecLoader', () => {
  it('reuses the results of unchanged files when one file changes', () => {
    const loader = createSpecLoader();
    const files = { 'config.yaml': CONFIG_FILE, 'target.yaml': STREAM_TARGET, 'route.yaml': ROUTE };
    const first = revisionOf(loader.load(memTree(files)));
    const second = revisionOf(
      loader.load(
        memTree({ ...files, 'config.yaml': CONFIG_FILE.replace('content: hello', 'content: bye') }),
      ),
    );
    expect(second.byKind.StreamTarget[0]).toBe(first.byKind.StreamTarget[0]);
    expect(second.byKind.Route[0]).toBe(first.byKind.Route[0]);
    expect(second.byKind.ConfigFile[0]).not.toBe(first.byKind.ConfigFile[0]);
    expect(second.byKind.ConfigFile[0]?.spec.content).toBe('bye');
    expect(second.id).not.toBe(first.id);
  });

  it('re-checks cross-references of unchanged files when the file they name is removed', () => {
    const loader = createSpecLoader();
    expect(loader.load(memTree({ 'target.yaml': STREAM_TARGET, 'route.yaml': ROUTE })).ok).toBe(true);
    const result = loader.load(memTree({ 'route.yaml': ROUTE }));
    expect(result.ok ? [] : result.errors).toEqual([
      {
        file: 'route.yaml',
        line: 8,
        col: 13,
        path: 'spec.targets[0].name',
        message: 'no StreamTarget "redis-events"',
      },
    ]);
  });

  it('gives what a fresh load gives when files are added, changed and removed', () => {
    const loader = createSpecLoader();
    loader.load(memTree({ 'a.yaml': CONFIG_FILE, 'b.yaml': CONFIG_FILE.replace('name: motd', 'name: b') }));
    const tree = memTree({
      'a.yaml': CONFIG_FILE.replace('hello', 'changed'),
      'c.yaml': STREAM_TARGET,
      'd.yaml': ROUTE,
    });
    expect(loader.load(tree)).toEqual(loadRevision(tree));
  });

  it('reports the errors of a cached invalid file again when it has not changed', () => {
    const loader = createSpecLoader();
    const tree = memTree({ 'a.yaml': CONFIG_FILE.replace('path: /etc/motd', 'path: x') });
    const first = loader.load(tree);
    expect(first.ok).toBe(false);
    expect(loader.load(memTree({ 'a.yaml': CONFIG_FILE.replace('path: /etc/motd', 'path: x') }))).toEqual(
      first,
    );
  });

  it('gives what load gives when loading asynchronously', async () => {
    const tree = memTree({ 'a.yaml': CONFIG_FILE, 'c.yaml': STREAM_TARGET, 'd.yaml': ROUTE });
    expect(await createSpecLoader().loadAsync(tree)).toEqual(createSpecLoader().load(tree));
  });
});

describe('loadRevision (robustness)', () => {
  const random = seededRandom;
  const ALPHABET = ' \n\t:-[]{},"\'#&*!|>%@`?0a';

  it('never throws and places every error in the file when documents are mangled', () => {
    const next = random(42);
    const base = `${STREAM_TARGET}---\n${ROUTE}---\n${CONFIG_FILE}`;
    for (let round = 0; round < 500; round++) {
      let text = base;
      for (let edits = 1 + Math.floor(next() * 4); edits > 0; edits--) {
        const at = Math.floor(next() * text.length);
        const char = ALPHABET[Math.floor(next() * ALPHABET.length)] ?? '';
        text =
          next() < 0.5 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + char + text.slice(at);
      }
      const result = loadRevision(memTree({ 'a.yaml': text }));
      const lines = text.split('\n').length;
      for (const e of result.ok ? [] : result.errors) {
        expect(e.file).toBe('a.yaml');
        expect(e.line).toBeGreaterThanOrEqual(1);
        expect(e.line).toBeLessThanOrEqual(lines + 1);
        expect(e.col).toBeGreaterThanOrEqual(1);
        expect(e.message).not.toContain('internal error');
      }
    }
  });

  it('never throws when a spec file holds binary bytes', () => {
    const result = loadRevision(memTree({ 'a.yaml': Buffer.from([0xff, 0xfe, 0x00, 0x3a, 0x0a, 0x5b]) }));
    expect(result.ok).toBe(false);
  });
});
