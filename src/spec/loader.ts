/**
 * The core of the loader: a tree of files -> a valid Revision or every error. A loader caches each spec
 * file's parse and validation by content hash, so after one file changes only that file is re-done, plus
 * the cross-reference pass.
 */
import { createHash } from 'node:crypto';
import { crossRefErrors } from './cross-refs.js';
import { createFieldPlacer } from './deferred-positions.js';
import { sortSpecErrors } from './issue.js';
import { DEFAULT_SIZE_LIMITS, formatBytes, type SecretPolicy, type SizeLimits } from './limits.js';
import { type FileResult, loadSpecFile } from './load-file.js';
import { withPlainEnv } from './plain-env.js';
import { policyErrors } from './policy-checks.js';
import { isSpecFile } from './spec-files.js';
import { KINDS, type LoadResult, type Resource, type Revision, type SpecError } from './types.js';
import type { ValidatedDoc } from './validate-doc.js';
import { type FileJob, loadFilesInWorkers } from './worker-pool.js';

/** Options of one load. */
export interface LoadOptions {
  /** The revision id (a Git SHA); default the SHA-256 of the sorted (path, SHA-256 of content) pairs. */
  id?: string;
  /** Symlinks of the tree (path -> link text, from `readTreeChecked`); a ConfigFile source on one is an error. */
  symlinks?: ReadonlyMap<string, string>;
  /** Size limits; default DEFAULT_SIZE_LIMITS (1 MiB per spec file, 64 MiB per revision). */
  limits?: Partial<SizeLimits>;
  /** The secrets references may name; undefined (offline tools) leaves references unchecked. */
  secrets?: SecretPolicy;
  /** Parse on worker threads whatever the tree's size (the controller, so its event loop stays free). */
  alwaysThreaded?: boolean;
  /**
   * With threads, let the calling thread parse files too while the threads start up (default false): for
   * offline tools that await nothing else meanwhile; ignored with `alwaysThreaded`.
   */
  shareWithCaller?: boolean;
}

/** A loader that remembers per-file results between loads. */
export interface SpecLoader {
  /**
   * Loads a tree (keys are posix paths relative to the tree root) in the calling thread. Resources of
   * unchanged files are the same objects as in the previous result: treat them as read-only. Do not
   * modify a Buffer after passing it in (content hashes are remembered per Buffer).
   */
  load(tree: ReadonlyMap<string, Buffer>, opts?: LoadOptions): LoadResult;
  /** Like `load`, but parses changed files on worker threads when there are enough of them. */
  loadAsync(tree: ReadonlyMap<string, Buffer>, opts?: LoadOptions): Promise<LoadResult>;
}

/**
 * Content hashes by buffer: trees handed over again with mostly the same Buffer objects (the usual case
 * after one file changed) are not hashed again. Buffers must not be modified after they are loaded.
 */
const hashes = new WeakMap<Buffer, string>();

function sha256(data: Buffer): string {
  let hash = hashes.get(data);
  if (hash === undefined) {
    hash = createHash('sha256').update(data).digest('hex');
    hashes.set(data, hash);
  }
  return hash;
}

function buildRevision(id: string, docs: ValidatedDoc[], tree: ReadonlyMap<string, Buffer>): Revision {
  const resources: Resource[] = [];
  const files = new Map<string, Buffer>();
  const byKind = Object.fromEntries(KINDS.map((k) => [k, [] as Resource[]])) as Record<string, Resource[]>;
  for (const d of docs) {
    const r = d.resource;
    if (!r) continue;
    resources.push(r);
    byKind[r.kind]?.push(r);
    const source = r.kind === 'ConfigFile' ? r.spec.source : undefined;
    const bytes = source === undefined ? undefined : tree.get(source);
    if (source !== undefined && bytes) files.set(source, bytes);
  }
  return { id, resources, byKind: byKind as unknown as Revision['byKind'], files };
}

function specFileTooLarge(path: string, bytes: number, limits: SizeLimits): SpecError {
  const message = `spec file is ${formatBytes(bytes)}, over the limit of ${formatBytes(limits.maxSpecFileBytes)} per file; split it into smaller files (or raise --max-spec-file-bytes)`;
  return { file: path, line: 1, col: 1, path: '', message };
}

function revisionTooLarge(bytes: number, limits: SizeLimits): SpecError {
  const message = `the spec tree holds ${formatBytes(bytes)}, over the limit of ${formatBytes(limits.maxRevisionBytes)} per revision; keep large binaries out of the spec tree or raise --max-revision-bytes`;
  return { file: '.', line: 1, col: 1, path: '', message };
}

interface HashedTree {
  /** Sorted paths with their content hash. */
  entries: Array<{ path: string; hash: string; spec: boolean }>;
  id: string;
}

function hashTree(tree: ReadonlyMap<string, Buffer>): HashedTree {
  const id = createHash('sha256');
  const entries = [...tree.keys()].sort().map((path) => {
    const hash = sha256(tree.get(path) as Buffer);
    id.update(`${path}\u0000${hash}\n`);
    return { path, hash, spec: isSpecFile(path) };
  });
  return { entries, id: id.digest('hex') };
}

/** A loader whose loads re-parse only the files whose content changed since its previous load. */
export function createSpecLoader(): SpecLoader {
  let cache = new Map<string, FileResult>();

  const assemble = (tree: ReadonlyMap<string, Buffer>, hashed: HashedTree, opts: LoadOptions): LoadResult => {
    const next = new Map<string, FileResult>();
    const docs: ValidatedDoc[] = [];
    const errors: SpecError[] = [];
    const limits = { ...DEFAULT_SIZE_LIMITS, ...opts.limits };
    const total = hashed.entries.reduce((n, e) => n + (tree.get(e.path)?.byteLength ?? 0), 0);
    if (total > limits.maxRevisionBytes) return { ok: false, errors: [revisionTooLarge(total, limits)] };
    withPlainEnv(() => {
      for (const { path, hash, spec } of hashed.entries) {
        if (!spec) continue;
        const content = tree.get(path) as Buffer;
        if (content.byteLength > limits.maxSpecFileBytes) {
          errors.push(specFileTooLarge(path, content.byteLength, limits));
          continue;
        }
        const cached = cache.get(path);
        const result = cached?.hash === hash ? cached : loadSpecFile(path, content, hash);
        next.set(path, result);
        for (const d of result.docs) docs.push(d);
        for (const e of result.errors) errors.push(e);
      }
    });
    cache = next;
    const place = createFieldPlacer(tree);
    errors.push(...crossRefErrors(docs, tree, opts.symlinks, place));
    const symlinks = opts.symlinks ?? new Map<string, string>();
    errors.push(...policyErrors(docs, { tree, symlinks, secrets: opts.secrets, place }));
    if (errors.length > 0) return { ok: false, errors: sortSpecErrors(errors) };
    return { ok: true, revision: buildRevision(opts.id ?? hashed.id, docs, tree) };
  };

  return {
    load(tree, opts = {}) {
      return assemble(tree, hashTree(tree), opts);
    },
    async loadAsync(tree, opts = {}) {
      const hashed = hashTree(tree);
      const maxSpecFileBytes = opts.limits?.maxSpecFileBytes ?? DEFAULT_SIZE_LIMITS.maxSpecFileBytes;
      const jobs: FileJob[] = hashed.entries
        .filter((e) => e.spec && cache.get(e.path)?.hash !== e.hash)
        .map((e) => ({ path: e.path, hash: e.hash, content: tree.get(e.path) as Buffer }))
        // Oversized files are refused by `assemble` without being parsed anywhere.
        .filter((j) => j.content.byteLength <= maxSpecFileBytes);
      const results = await loadFilesInWorkers(jobs, {
        always: opts.alwaysThreaded === true,
        shareWithCaller: opts.shareWithCaller === true,
      });
      results?.forEach((r, i) => {
        cache.set((jobs[i] as FileJob).path, r);
      });
      return assemble(tree, hashed, opts);
    },
  };
}

/** Loads a tree once, in the calling thread (no cache kept); never throws on user input. */
export function loadRevision(tree: ReadonlyMap<string, Buffer>, opts?: LoadOptions): LoadResult {
  return createSpecLoader().load(tree, opts);
}
