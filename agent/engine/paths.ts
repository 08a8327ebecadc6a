/** Maps the paths a manifest names onto the host, under `--root` when one is given. */
import { posix } from 'node:path';
import { PathEscapeError, RelativePathError } from './errors.js';

/**
 * The absolute host path of managed `path` under `root` (`/etc/x` -> `ROOT/etc/x`); an empty root means the
 * real `/`. Throws RelativePathError for a relative path and PathEscapeError for any `..` segment or NUL byte:
 * manifests come from the planner in canonical form, so a `..` is refused rather than interpreted.
 */
export function resolveManaged(root: string, path: string): string {
  if (!posix.isAbsolute(path)) throw new RelativePathError(path);
  if (path.includes('\0') || path.split('/').includes('..')) throw new PathEscapeError(path, root);
  const normal = posix.normalize(path);
  if (root === '' || root === '/') return normal;
  const base = posix.resolve(root);
  const full = posix.join(base, normal);
  if (full !== base && !full.startsWith(`${base}/`)) throw new PathEscapeError(path, root);
  return full;
}
