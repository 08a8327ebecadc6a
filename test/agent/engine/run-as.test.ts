import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../agent/engine/deps.js';
import { RunAsError } from '../../../agent/engine/errors.js';
import { type ExecDeps, runScript, SPAWN_FAILED_EXIT_CODE } from '../../../agent/engine/exec.js';
import { DEFAULT_LANG, minimalEnv, resolveRunAs, SAFE_PATH } from '../../../agent/engine/run-as.js';
import { type Sandbox, sandbox } from './helpers.js';

const isRoot = process.getuid?.() === 0;

describe('minimalEnv', () => {
  it('holds PATH, HOME and LANG, then the declared variables, when built', () => {
    expect(minimalEnv('/home/app', { APP: '1', LANG: 'de_DE.UTF-8' })).toEqual({
      PATH: SAFE_PATH,
      HOME: '/home/app',
      LANG: 'de_DE.UTF-8',
      APP: '1',
    });
    expect(minimalEnv('/')).toEqual({ PATH: SAFE_PATH, HOME: '/', LANG: DEFAULT_LANG });
  });
});

describe('resolveRunAs', () => {
  let box: Sandbox;
  let userDb: { passwdPath: string; groupPath: string };
  beforeEach(async () => {
    box = await sandbox('gse-runas-');
    userDb = { passwdPath: join(box.dir, 'passwd'), groupPath: join(box.dir, 'group') };
    await writeFile(
      userDb.passwdPath,
      'root:x:0:0:root:/root:/bin/sh\napp:x:1001:1002:App:/srv/app:/bin/sh\n',
    );
    await writeFile(userDb.groupPath, 'root:x:0:\napp:x:1002:\nweb:x:1003:\n');
  });
  afterEach(() => box.cleanup());

  it.each([
    { runAs: 'app', want: { uid: 1001, gid: 1002, home: '/srv/app' } },
    { runAs: 'app:web', want: { uid: 1001, gid: 1003, home: '/srv/app' } },
    { runAs: '1001:1003', want: { uid: 1001, gid: 1003, home: '/srv/app' } },
  ])('resolves $runAs to its ids and home when the agent is root', async ({ runAs, want }) => {
    expect(await resolveRunAs(runAs, { userDb, self: { uid: 0, gid: 0 } })).toEqual(want);
  });

  it.each([
    { name: 'an unknown user', runAs: 'ghost', self: { uid: 0, gid: 0 }, error: /user "ghost" not found/ },
    {
      name: 'an unknown group',
      runAs: 'app:ghost',
      self: { uid: 0, gid: 0 },
      error: /group "ghost" not found/,
    },
    {
      name: 'another user while not root',
      runAs: 'app',
      self: { uid: 1000, gid: 1000 },
      error:
        /runs as uid 1000, not root, and cannot switch to 1001:1002; run the agent as root or remove runAs/,
    },
  ])('refuses $name', async ({ runAs, self, error }) => {
    const err = await resolveRunAs(runAs, { userDb, self }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunAsError);
    expect((err as Error).message).toMatch(error);
  });

  it('allows the agent user itself when not root', async () => {
    expect(await resolveRunAs('app', { userDb, self: { uid: 1001, gid: 1002 } })).toMatchObject({
      uid: 1001,
    });
  });
});

describe('runScript environment and runAs', () => {
  let box: Sandbox;
  let deps: ExecDeps;
  beforeEach(async () => {
    box = await sandbox('gse-exec-env-');
    deps = { clock: systemClock, scriptDir: join(box.dir, 'tmp') };
  });
  afterEach(() => box.cleanup());

  it('gives the script only PATH, HOME, LANG and its env, not the agent variables, when it runs', async () => {
    process.env.GSE_BOOTSTRAP_TOKEN = 'canary-bootstrap-token';
    try {
      const out = await runScript(
        { taskId: 'e1', script: 'env', timeoutMs: 10_000, env: { APP: 'x' } },
        deps,
      );
      const names = out.stdoutTail
        .trim()
        .split('\n')
        .map((l) => l.split('=')[0])
        .filter((n) => n !== 'PWD' && n !== 'SHLVL' && n !== '_');
      expect(names.sort()).toEqual(['APP', 'HOME', 'LANG', 'PATH']);
      expect(out.stdoutTail).not.toContain('canary-bootstrap-token');
      expect(out.stdoutTail).toContain(`PATH=${SAFE_PATH}\n`);
    } finally {
      delete process.env.GSE_BOOTSTRAP_TOKEN;
    }
  });

  it.skipIf(!isRoot)(
    'runs as the runAs user with its gid and home, and no other group, when root',
    async () => {
      const out = await runScript(
        {
          taskId: 'r1',
          script: 'echo "$(id -u) $(id -g) $(id -G) $HOME $(pwd)"',
          timeoutMs: 10_000,
          runAs: 'nobody',
        },
        deps,
      );
      expect(out.stderrTail).toBe('');
      expect(out.stdoutTail).toBe('65534 65534 65534 /nonexistent /\n');
    },
  );

  it.skipIf(!isRoot)('runs a non-shell interpreter as the runAs user from a file it can read', async () => {
    const out = await runScript(
      {
        taskId: 'r2',
        script: 'console.log(process.getuid())',
        interpreter: process.execPath,
        timeoutMs: 10_000,
        runAs: 'nobody',
      },
      deps,
    );
    expect(out).toMatchObject({ exitCode: 0, stdoutTail: '65534\n', stderrTail: '' });
  });

  it('fails the task saying why, and runs nothing, when the user is unknown', async () => {
    const marker = join(box.dir, 'ran');
    const out = await runScript(
      { taskId: 'r3', script: `touch ${marker}`, timeoutMs: 10_000, runAs: 'no-such-user-gse' },
      deps,
    );
    expect(out.exitCode).toBe(SPAWN_FAILED_EXIT_CODE);
    expect(out.stderrTail).toMatch(
      /refused to run: runAs "no-such-user-gse": user "no-such-user-gse" not found/,
    );
    await expect(stat(marker)).rejects.toThrow(/ENOENT/);
  });
});
