import { describe, expect, it } from 'vitest';
import { crossRefErrors } from '../../src/spec/cross-refs.js';
import { sortSpecErrors } from '../../src/spec/issue.js';
import { loadSpecFile, loadSpecFileWithPositions } from '../../src/spec/load-file.js';
import { createSpecLoader, loadRevision } from '../../src/spec/loader.js';
import { policyErrors } from '../../src/spec/policy-checks.js';
import { isSpecFile } from '../../src/spec/spec-files.js';
import { formatSpecError, type LoadResult, type SpecError } from '../../src/spec/types.js';
import { CONFIG_FILE, memTree, PROCESS_WATCH, ROUTE, STREAM_TARGET, yaml } from './helpers.js';

const SECRETS = { env: ['REDIS_PW'], dir: '/etc/gse/secrets' };

/** Valid documents, each file on its own, with every kind of error between them (and against the policy). */
const CROSS_REF_TREE = {
  'a.yaml': `# first\n${CONFIG_FILE}---\n${ROUTE.replace('redis-events', 'redis-evnts')}`,
  'b.yaml': `\n\n${CONFIG_FILE}`,
  'c.yaml': yaml(
    'apiVersion: gse/v1',
    'kind: ConfigFile',
    'metadata: { name: sourced }',
    'spec:',
    '  hosts: { names: ["*"] }',
    '  path: /etc/sourced',
    '  source: files/app.con',
  ),
  'd.yaml': yaml(
    'apiVersion: gse/v1',
    'kind: ProcessOverride',
    'metadata: { name: nginx }',
    'spec:',
    '  watch: ngnix',
    '  hosts: { web-1: { ensure: running, op: delegate } }',
  ),
  'e.yaml': `${STREAM_TARGET.replace('redis://127.0.0.1:6379/0', 'redis://127.0.0.1:6379/0\n    passwordFrom: { env: OTHER }')}---\n${PROCESS_WATCH}`,
  'files/app.conf': 'x',
};

function errorsOf(result: LoadResult): string[] {
  return result.ok ? [] : result.errors.map(formatSpecError);
}

/** The errors as the loader gave them before the fast path: every file parsed with positions. */
function errorsWithPositions(files: Record<string, string>): string[] {
  const tree = memTree(files);
  const docs = [...tree]
    .filter(([path]) => isSpecFile(path))
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .flatMap(([path, bytes]) => loadSpecFileWithPositions(path, bytes.toString('utf8'), '').docs);
  const errors: SpecError[] = [
    ...crossRefErrors(docs, tree),
    ...policyErrors(docs, { tree, symlinks: new Map(), secrets: SECRETS }),
  ];
  return sortSpecErrors(errors).map(formatSpecError);
}

describe('loadSpecFile', () => {
  it('keeps no field positions for a file of valid documents (the fast path)', () => {
    const result = loadSpecFile('a.yaml', Buffer.from(`${CONFIG_FILE}---\n${STREAM_TARGET}`), 'h');
    expect(result.errors).toEqual([]);
    expect(result.docs.map((d) => [d.positionsDeferred, d.refs, d.pos.line])).toEqual([
      [true, {}, 1],
      [true, {}, 10],
    ]);
  });

  it('gives the errors of the positioned parse for a file with an error in one document', () => {
    const text = `${CONFIG_FILE}---\n${CONFIG_FILE.replace('motd', 'motd2').replace('path: /etc/motd', 'path: etc/x')}`;
    const fast = loadSpecFile('a.yaml', Buffer.from(text), 'h');
    expect(fast).toEqual(loadSpecFileWithPositions('a.yaml', text, 'h'));
    expect(fast.errors.map(formatSpecError)).toEqual([
      'a.yaml:16:9: spec.path: invalid value "etc/x": must be an absolute path',
    ]);
    expect(fast.docs.some((d) => d.positionsDeferred)).toBe(false);
  });

  it('gives the errors of the positioned parse for a file the fast parser leaves to yaml', () => {
    const text = CONFIG_FILE.replace('content: hello', 'content: !!binary aGVsbG8=');
    const fast = loadSpecFile('a.yaml', Buffer.from(text), 'h');
    expect(fast).toEqual(loadSpecFileWithPositions('a.yaml', text, 'h'));
    expect(fast.errors).not.toEqual([]);
  });
});

describe('deferred positions', () => {
  it('places cross-reference and policy errors about fast-path documents where the positioned parse does', () => {
    const tree = memTree(CROSS_REF_TREE);
    for (const [path, bytes] of tree)
      if (isSpecFile(path))
        expect(loadSpecFile(path, bytes, '').docs.every((d) => d.positionsDeferred)).toBe(true);
    const errors = errorsOf(loadRevision(tree, { secrets: SECRETS }));
    expect(errors).toEqual(errorsWithPositions(CROSS_REF_TREE));
    expect(errors).toEqual([
      'a.yaml:18:13: spec.targets[0].name: no StreamTarget "redis-evnts"; did you mean "redis-events"?',
      'b.yaml:6:9: metadata.name: duplicate ConfigFile "motd"; first defined at a.yaml:5:9',
      'c.yaml:7:11: spec.source: no file "files/app.con" in the repo; did you mean "files/app.conf"?',
      'd.yaml:5:10: spec.watch: no ProcessWatch "ngnix"; did you mean "nginx"?; declare the watch, or delete this override',
      expect.stringMatching(/^e\.yaml:8:5: spec\.redis\.passwordFrom: secret env "OTHER" is not allowed/),
    ]);
  });

  it('places them from the content of the load, when a cached file result is reused', () => {
    const loader = createSpecLoader();
    const tree = memTree(CROSS_REF_TREE);
    loader.load(tree, { secrets: SECRETS });
    // Only c.yaml changes (one line more at the top); the others come from the loader's cache.
    const changed = { ...CROSS_REF_TREE, 'c.yaml': `# moved\n${CROSS_REF_TREE['c.yaml']}` };
    const next = new Map(tree).set('c.yaml', Buffer.from(changed['c.yaml']));
    expect(errorsOf(loader.load(next, { secrets: SECRETS }))).toEqual(errorsWithPositions(changed));
  });
});
