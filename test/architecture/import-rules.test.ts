/**
 * The import rules of docs/ARCHITECTURE.md, read from the sources with a small regex (static `from '...'`,
 * side-effect `import '...'` and dynamic `import('...')`; type-only imports count too).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const IMPORT_RE = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;

interface Edge {
  file: string;
  target: string;
}

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** Every relative import of the .ts files under `dir`, as repo-relative paths. */
function importsUnder(dir: string): Edge[] {
  const edges: Edge[] = [];
  for (const file of tsFiles(dir)) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = m[1] as string;
      if (!spec.startsWith('.')) continue;
      edges.push({ file, target: relative(ROOT, resolve(ROOT, dirname(file), spec)) });
    }
  }
  return edges;
}

/** The part a repo path belongs to: `agent`, `src/<part>`, or the path itself. */
function partOf(path: string): string {
  const [top, second] = path.split('/');
  return top === 'src' && second ? `src/${second}` : (top ?? path);
}

function breaking(dir: string, allowed: (part: string) => boolean): string[] {
  return importsUnder(dir)
    .filter((e) => partOf(e.target) !== partOf(e.file) && !allowed(partOf(e.target)))
    .map((e) => `${e.file} -> ${e.target}`);
}

const RUNTIME = ['src/controller', 'src/fleet', 'src/api', 'src/cli', 'src/routing', 'src/source'];

describe('import rules', () => {
  it('finds the imports it checks (the regex is not blind)', () => {
    const targets = importsUnder('agent').map((e) => partOf(e.target));
    expect(targets).toContain('src/protocol');
    expect(targets).toContain('src/kernel');
    expect(importsUnder('src/controller').length).toBeGreaterThan(50);
  });

  it('keeps the agent on the protocol (and the kernel) only', () => {
    expect(breaking('agent', (p) => p === 'src/protocol' || p === 'src/kernel')).toEqual([]);
  });

  it('keeps the kernel free of every other part', () => {
    expect(importsUnder('src/kernel').filter((e) => partOf(e.target) !== 'src/kernel')).toEqual([]);
  });

  it.each(['src/protocol', 'src/spec', 'src/store', 'src/kernel'])(
    'keeps %s free of runtime parts',
    (dir) => {
      expect(breaking(dir, (p) => !RUNTIME.includes(p) && p !== 'agent')).toEqual([]);
    },
  );

  it('keeps the controller free of the cli, and of the api but for the port adapter', () => {
    // The one exception, stated in docs/ARCHITECTURE.md: api-port.ts and api-port-*.ts implement the
    // API's port, so they import the port's types (type-only) from src/api.
    const adapter = /^src\/controller\/api-port(-[a-z-]+)?\.ts -> src\/api\//;
    const edges = breaking('src/controller', (p) => p !== 'src/api' && p !== 'src/cli' && p !== 'agent');
    expect(edges.filter((e) => !adapter.test(e))).toEqual([]);
    const files = readdirSync(join(ROOT, 'src/controller')).filter((f) =>
      /^api-port(-[a-z-]+)?\.ts$/.test(f),
    );
    expect(files.length).toBeGreaterThan(1);
    let apiImports = 0;
    for (const f of files) {
      const text = readFileSync(join(ROOT, 'src/controller', f), 'utf8');
      expect(text, f).not.toMatch(/^import\s+\{(?!.*\btype\b)[^}]*\}\s+from\s+'\.\.\/api\//m);
      apiImports += text.match(/from '\.\.\/api\/[^']+'/g)?.length ?? 0;
    }
    expect(apiImports).toBeGreaterThan(0);
  });
});
