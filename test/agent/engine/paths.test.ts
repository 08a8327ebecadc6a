import { describe, expect, it } from 'vitest';
import { PathEscapeError, RelativePathError } from '../../../agent/engine/errors.js';
import { resolveManaged } from '../../../agent/engine/paths.js';

describe('resolveManaged', () => {
  it.each([
    { root: '/srv/sim-1', path: '/etc/x.conf', want: '/srv/sim-1/etc/x.conf' },
    { root: '/srv/sim-1/', path: '/etc//nginx/./a.conf', want: '/srv/sim-1/etc/nginx/a.conf' },
    { root: '', path: '/etc/x.conf', want: '/etc/x.conf' },
    { root: '/', path: '/etc/x.conf', want: '/etc/x.conf' },
  ])('maps $path under root "$root" to $want when the path is absolute', ({ root, path, want }) => {
    expect(resolveManaged(root, path)).toBe(want);
  });

  it.each([
    { name: 'relative path', path: 'etc/x', error: RelativePathError },
    { name: 'dot-dot escape', path: '/../etc/passwd', error: PathEscapeError },
    { name: 'inner dot-dot', path: '/etc/../../x', error: PathEscapeError },
    { name: 'NUL byte', path: '/etc/x\0y', error: PathEscapeError },
  ])('rejects a $name with a typed error', ({ path, error }) => {
    expect(() => resolveManaged('/srv/root', path)).toThrow(error);
  });

  it('carries a code on the error when the path escapes', () => {
    try {
      resolveManaged('/srv/root', '/a/../../b');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PathEscapeError);
      expect((err as PathEscapeError).code).toBe('PATH_ESCAPE');
      expect((err as Error).message).toMatch(/escapes the root "\/srv\/root"/);
    }
  });
});
