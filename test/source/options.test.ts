import { describe, expect, it } from 'vitest';
import { compileSourceOptions, localRepoPath, redactUrl } from '../../src/source/options.js';

describe('compileSourceOptions', () => {
  it('fills the documented defaults when only repo and stateDir are given', () => {
    const compiled = compileSourceOptions({
      repo: 'https://git.example.com/ops/fleet.git',
      stateDir: '/var/lib/gse',
    });

    expect(compiled).toMatchObject({
      remoteUrl: 'https://git.example.com/ops/fleet.git',
      localPath: undefined,
      branch: 'main',
      path: '.',
      repoDir: '/var/lib/gse/repo',
      checkoutsDir: '/var/lib/gse/checkouts',
      intervalMs: 15_000,
      verifySignatures: false,
      watchLocal: true,
      fetchTimeoutMs: 120_000,
    });
  });

  it('normalizes the spec path when given with ./ and a trailing slash', () => {
    expect(compileSourceOptions({ repo: '/r', stateDir: '/s', path: './fleet//prod/' }).path).toBe(
      'fleet/prod',
    );
  });
});

describe('localRepoPath', () => {
  it.each([
    { repo: '/srv/git/fleet.git', expected: '/srv/git/fleet.git' },
    { repo: 'file:///srv/git/fleet.git', expected: '/srv/git/fleet.git' },
    { repo: 'https://example.com/fleet.git', expected: undefined },
    { repo: 'ssh://git@example.com/fleet.git', expected: undefined },
    { repo: 'git@example.com:ops/fleet.git', expected: undefined },
  ])('returns $expected when given $repo', ({ repo, expected }) => {
    expect(localRepoPath(repo)).toBe(expected);
  });
});

describe('redactUrl', () => {
  it('hides credentials when a URL carries them', () => {
    expect(redactUrl("fatal: unable to access 'https://bot:ghp_x@example.com/f.git/'")).toBe(
      "fatal: unable to access 'https://***@example.com/f.git/'",
    );
  });
});
