/** Test helpers for the spec loader: spec trees written to real temporary directories. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A spec tree on disk. */
export interface TempTree {
  dir: string;
  /** Writes (or with `null`, deletes) files. */
  write(files: Record<string, string | Buffer | null>): Promise<void>;
  cleanup(): Promise<void>;
}

/** A new temporary directory holding `files` (posix paths relative to it). */
export async function tempTree(files: Record<string, string | Buffer>): Promise<TempTree> {
  const dir = await mkdtemp(join(tmpdir(), 'gse-spec-'));
  const tree: TempTree = {
    dir,
    async write(change) {
      for (const [path, content] of Object.entries(change)) {
        const full = join(dir, path);
        if (content === null) await rm(full, { force: true });
        else {
          await mkdir(dirname(full), { recursive: true });
          await writeFile(full, content);
        }
      }
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  await tree.write(files);
  return tree;
}

/** An in-memory tree for the pure loader. */
export function memTree(files: Record<string, string | Buffer>): Map<string, Buffer> {
  return new Map(Object.entries(files).map(([p, c]) => [p, Buffer.isBuffer(c) ? c : Buffer.from(c)]));
}

/** Joins YAML lines, so that line numbers in tests are easy to count (line 1 is the first element). */
export function yaml(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

/** A valid ConfigFile document (8 lines). */
export const CONFIG_FILE = yaml(
  'apiVersion: gse/v1',
  'kind: ConfigFile',
  'metadata:',
  '  name: motd',
  'spec:',
  '  hosts: { names: ["*"] }',
  '  path: /etc/motd',
  '  content: hello',
);

/** A valid StreamTarget document named redis-events (8 lines). */
export const STREAM_TARGET = yaml(
  'apiVersion: gse/v1',
  'kind: StreamTarget',
  'metadata:',
  '  name: redis-events',
  'spec:',
  '  redis:',
  '    url: redis://127.0.0.1:6379/0',
  '    key: gse:events',
);

/** A valid Route to redis-events (8 lines). */
export const ROUTE = yaml(
  'apiVersion: gse/v1',
  'kind: Route',
  'metadata:',
  '  name: events',
  'spec:',
  '  channel: events',
  '  targets:',
  '    - name: redis-events',
);

/** A valid ProcessWatch document (6 lines). */
export const PROCESS_WATCH = yaml(
  'apiVersion: gse/v1',
  'kind: ProcessWatch',
  'metadata: { name: nginx }',
  'spec:',
  '  hosts: { names: [web-1] }',
  '  process: { name: nginx }',
);
