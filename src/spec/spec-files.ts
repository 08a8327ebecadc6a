/** Which files of a tree are spec documents. */

const SPEC_EXTENSION = /\.ya?ml$/i;

/**
 * True for `*.yaml` / `*.yml` files, except under a directory named `files/` (where ConfigFile sources
 * live) and except hidden files and directories (`.github/`, `.gitlab-ci.yml`), which hold other tools'
 * YAML.
 */
export function isSpecFile(path: string): boolean {
  if (!SPEC_EXTENSION.test(path)) return false;
  const segments = path.split('/');
  const dirs = segments.slice(0, -1);
  if (dirs.includes('files')) return false;
  return !segments.some((s) => s.startsWith('.') && s !== '.' && s !== '..');
}
