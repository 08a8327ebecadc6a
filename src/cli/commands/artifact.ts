/**
 * `gsectl artifact build [--version V] [--out DIR]`: packs the built agent (dist/agent and every dist file it
 * imports, found by following its imports), the packages it imports from node_modules (with their
 * dependencies), a `bin/gse-agent` launcher script and `dist/VERSION` into `gse-agent-<V>.tgz`.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { CommandInput } from '../commands.js';
import type { CommandResult } from '../output.js';

const run = promisify(execFile);
const VERSION_PATTERN = /^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$/;
/** Static imports and re-exports at the start of a line, and dynamic `import('...')` with a literal. */
const IMPORT_PATTERNS = [
  /^\s*import\s+['"]([^'"]+)['"]/gm,
  /\bfrom\s*['"]([^'"]+)['"];?\s*$/gm,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
];
const PACKAGE_NAME = /^(?:@[a-z0-9._-]+\/)?[a-z0-9._-]+$/;
const BUILTINS = new Set(builtinModules);

/** The checkout root: this file is dist/src/cli/commands/artifact.js once built. */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

const LAUNCHER_SCRIPT = `#!/bin/sh
# gse-agent of this package: "bin/gse-agent launch --install-dir D -- ARGS" supervises D/current.
here=$(dirname "$(readlink -f "$0")")
exec node "$here/../dist/agent/main.js" "$@"
`;

/** The dist files the agent's entry reaches and the npm packages it imports. */
export async function agentClosure(distRoot: string): Promise<{ files: string[]; packages: string[] }> {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [join(distRoot, 'agent/main.js')];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    const text = await readFile(file, 'utf8');
    const specs = IMPORT_PATTERNS.flatMap((re) => [...text.matchAll(re)].map((m) => m[1] as string));
    for (const spec of specs) {
      if (spec.startsWith('.')) {
        queue.push(resolve(dirname(file), spec));
        continue;
      }
      const parts = spec.split('/');
      const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
      if (spec.startsWith('node:') || BUILTINS.has(name) || !PACKAGE_NAME.test(name)) continue;
      packages.add(name);
    }
  }
  return { files: [...files].sort(), packages: [...packages].sort() };
}

/** `packages` and their dependencies, transitively, as found in `nodeModules`. */
async function withDependencies(nodeModules: string, packages: string[]): Promise<string[]> {
  const seen = new Set<string>();
  const queue = [...packages];
  while (queue.length > 0) {
    const name = queue.pop() as string;
    if (seen.has(name)) continue;
    const pkgFile = join(nodeModules, name, 'package.json');
    const pkg = JSON.parse(await readFile(pkgFile, 'utf8').catch(() => '{}')) as {
      name?: string;
      dependencies?: Record<string, string>;
    };
    if (!pkg.name) throw new Error(`the agent imports "${name}", which is not in ${nodeModules}: run npm ci`);
    seen.add(name);
    queue.push(...Object.keys(pkg.dependencies ?? {}));
  }
  return [...seen].sort();
}

export interface BuiltArtifact {
  path: string;
  version: string;
  sha256: string;
}

/** Builds `gse-agent-<version>.tgz` in `outDir` from the checkout's dist/ and node_modules/. */
export async function buildArtifact(opts: {
  version: string;
  outDir: string;
  repoRoot?: string;
}): Promise<BuiltArtifact> {
  const root = opts.repoRoot ?? REPO_ROOT;
  const distRoot = join(root, 'dist');
  if (!(await stat(join(distRoot, 'agent/main.js')).catch(() => undefined)))
    throw new Error(`${distRoot}/agent/main.js is missing: run npm run build first`);
  const { files, packages } = await agentClosure(distRoot);
  const deps = await withDependencies(join(root, 'node_modules'), packages);
  const stage = await mkdtemp(join(tmpdir(), 'gse-artifact-'));
  try {
    for (const file of files) {
      const to = join(stage, 'dist', relative(distRoot, file));
      await mkdir(dirname(to), { recursive: true });
      await cp(file, to);
    }
    for (const name of deps)
      await cp(join(root, 'node_modules', name), join(stage, 'node_modules', name), {
        recursive: true,
        dereference: true,
      });
    await writeFile(join(stage, 'dist/VERSION'), `${opts.version}\n`);
    await writeFile(
      join(stage, 'package.json'),
      `${JSON.stringify({ name: 'gse-agent', version: opts.version, private: true, type: 'module' }, null, 2)}\n`,
    );
    await mkdir(join(stage, 'bin'));
    await writeFile(join(stage, 'bin/gse-agent'), LAUNCHER_SCRIPT);
    await chmod(join(stage, 'bin/gse-agent'), 0o755);
    await mkdir(opts.outDir, { recursive: true });
    const path = resolve(opts.outDir, `gse-agent-${opts.version}.tgz`);
    // Same inputs, same bytes: sorted names, fixed times and owners, gzip without a timestamp.
    await run('tar', [
      '--sort=name',
      '--mtime=@0',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '-I',
      'gzip -n',
      '-cf',
      path,
      '-C',
      stage,
      '.',
    ]);
    const sha256 = createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
    return { path, version: opts.version, sha256 };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** Builds the artifact; prints path, version and sha256. */
export async function run_(input: CommandInput): Promise<CommandResult> {
  const [sub] = input.positionals;
  if (sub !== 'build')
    return { exitCode: 2, stderr: ['usage: gsectl artifact build [--version V] [--out DIR] [-o json]'] };
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const version = typeof input.values.version === 'string' ? input.values.version : pkg.version;
  if (!VERSION_PATTERN.test(version))
    return {
      exitCode: 2,
      stderr: [`--version: "${version}" is not a semantic version such as 1.2.0`],
    };
  const out = typeof input.values.out === 'string' ? input.values.out : '.';
  const built = await buildArtifact({ version, outDir: out });
  return {
    exitCode: 0,
    data: built,
    table: () => `path     ${built.path}\nversion  ${built.version}\nsha256   ${built.sha256}`,
  };
}

export { run_ as run };
