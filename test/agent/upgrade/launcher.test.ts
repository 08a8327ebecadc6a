/**
 * The launcher's loop over a real install dir (symlinks, upgrade.json) with an injected spawn, clock and sleep,
 * then once with real child processes.
 */
import { writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RESTART_BASE_DELAY_MS } from '../../../agent/upgrade/decide.js';
import { NotInstalledError } from '../../../agent/upgrade/errors.js';
import {
  abortableSleep,
  type LaunchedChild,
  Launcher,
  type LauncherDeps,
  spawnAgent,
} from '../../../agent/upgrade/launcher.js';
import {
  EXIT_RESTART_NEW_VERSION,
  INSTALL_DIR_ENV,
  installLayout,
  linkedVersion,
  switchLink,
} from '../../../agent/upgrade/layout.js';
import {
  readUpgradeRecord,
  type UpgradeAttempt,
  type UpgradeState,
  writeUpgradeRecord,
} from '../../../agent/upgrade/record.js';
import { silentLogger } from '../../../src/kernel/index.js';
import { waitFor } from '../../helpers/controller.js';

type Exit = { code: number | null; signal: string | null };

/** A child whose exit the test decides; a kill ends it with that signal. */
class FakeChild implements LaunchedChild {
  readonly pid = 4242;
  readonly kills: string[] = [];
  private end!: (e: Exit) => void;
  readonly exited = new Promise<Exit>((r) => {
    this.end = r;
  });
  constructor(
    readonly command: string,
    readonly args: string[],
    readonly env: NodeJS.ProcessEnv,
  ) {}
  exit(code: number | null, signal: string | null = null): void {
    this.end({ code, signal });
  }
  kill(signal: NodeJS.Signals): void {
    this.kills.push(signal);
    this.exit(null, signal);
  }
}

function attempt(state: UpgradeState, extra: Partial<UpgradeAttempt> = {}): UpgradeAttempt {
  return {
    from: '1.0.0',
    to: '1.1.0',
    sha256: 'a'.repeat(64),
    attempt: 1,
    url: '/api/v1/artifacts/gse-agent-1.1.0.tgz',
    healthDeadlineMs: 3_000,
    state,
    at: '2026-01-01T00:00:00.000Z',
    ...extra,
  };
}

describe('Launcher (injected spawn and clock)', () => {
  let dir: string;
  let now: number;
  let children: FakeChild[];
  let sleeps: number[];
  /** Called with each child as it is spawned: the test's script for that run. */
  let onSpawn: (child: FakeChild, n: number) => void;
  let launcher: Launcher;

  const layout = () => installLayout(dir);
  const markHealthy = () =>
    writeFileSync(layout().record, JSON.stringify({ current: attempt('healthy'), failed: [] }));
  const versionOf = (c: FakeChild) => /versions\/([^/]+)\//.exec(c.args[0] ?? '')?.[1];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-launcher-'));
    for (const v of ['1.0.0', '1.1.0']) await mkdir(join(dir, 'versions', v), { recursive: true });
    await switchLink(layout().current, '1.0.0');
    now = Date.parse('2026-01-01T00:00:00.000Z');
    children = [];
    sleeps = [];
    onSpawn = () => {};
    const deps: LauncherDeps = {
      spawn: (command, args, env) => {
        const child = new FakeChild(command, args, env);
        children.push(child);
        // Let the loop reach its await first, as a real process would exit later.
        setImmediate(() => onSpawn(child, children.length));
        return child;
      },
      now: () => now,
      sleep: async (ms) => {
        sleeps.push(ms);
        now += ms;
        await new Promise((r) => setImmediate(r));
      },
      logger: silentLogger,
      env: { PATH: '/usr/bin' },
      node: '/usr/bin/node',
    };
    launcher = new Launcher(dir, ['--controller', 'wss://c/agent'], deps);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('starts current with the install dir in its env, and restarts a crashing agent with back-off', async () => {
    onSpawn = (c, n) => (n < 3 ? c.exit(1) : launcher.stop());
    await launcher.run();
    expect(children).toHaveLength(3);
    const first = children[0] as FakeChild;
    expect(first.command).toBe('/usr/bin/node');
    expect(first.args).toEqual([
      join(dir, 'versions/1.0.0/dist/agent/main.js'),
      '--controller',
      'wss://c/agent',
    ]);
    expect(first.env[INSTALL_DIR_ENV]).toBe(dir);
    expect(sleeps).toEqual([RESTART_BASE_DELAY_MS, RESTART_BASE_DELAY_MS * 2]);
    expect(children[2]?.kills).toEqual(['SIGTERM']);
    expect(JSON.parse(await readFile(layout().pids, 'utf8'))).toMatchObject({
      agent: 4242,
      version: '1.0.0',
    });
  });

  it('starts the new version at once when the agent exits 75 after switching', async () => {
    onSpawn = (c, n) => {
      if (n === 1) {
        (async () => {
          await switchLink(layout().current, '1.1.0');
          await writeUpgradeRecord(layout().record, { current: attempt('switched'), failed: [] });
          c.exit(EXIT_RESTART_NEW_VERSION);
        })().catch(() => {});
        return;
      }
      // Synchronously, before the launcher's first look at the record (its fake sleep advances the clock).
      markHealthy();
      launcher.stop();
    };
    await launcher.run();
    expect(children.map(versionOf)).toEqual(['1.0.0', '1.1.0']);
    expect(sleeps.filter((ms) => ms >= RESTART_BASE_DELAY_MS)).toEqual([]);
    expect(children[1]?.kills).toEqual(['SIGTERM']);
  });

  it('kills a new version that misses its health deadline, switches back and records why', async () => {
    await switchLink(layout().current, '1.1.0');
    await writeUpgradeRecord(layout().record, { current: attempt('switched'), failed: [] });
    onSpawn = (_c, n) => {
      if (n === 2) launcher.stop();
    };
    await launcher.run();
    expect(children.map(versionOf)).toEqual(['1.1.0', '1.0.0']);
    expect(children[0]?.kills).toEqual(['SIGKILL']);
    expect(await linkedVersion(layout().current)).toBe('1.0.0');
    const record = await readUpgradeRecord(layout().record);
    expect(record.current).toMatchObject({ state: 'failed', rolledBack: true });
    expect(record.current?.reason).toBe(
      'version 1.1.0 did not connect and report within 3000 ms (health deadline); rolled back to 1.0.0',
    );
    expect(record.failed).toEqual([
      expect.objectContaining({ to: '1.1.0', attempt: 1, reason: record.current?.reason }),
    ]);
  });

  it('rolls back a new version that exits before it reported', async () => {
    await switchLink(layout().current, '1.1.0');
    await writeUpgradeRecord(layout().record, { current: attempt('switched'), failed: [] });
    onSpawn = (c, n) => (n === 1 ? c.exit(3) : launcher.stop());
    await launcher.run();
    expect(children.map(versionOf)).toEqual(['1.1.0', '1.0.0']);
    expect((await readUpgradeRecord(layout().record)).current?.reason).toBe(
      'version 1.1.0 exited (code 3) before it reported; rolled back to 1.0.0',
    );
  });

  it('leaves a new version alone once it marked the record healthy', async () => {
    await switchLink(layout().current, '1.1.0');
    await writeUpgradeRecord(layout().record, { current: attempt('switched'), failed: [] });
    onSpawn = (c, n) => {
      if (n > 1) {
        launcher.stop();
        return;
      }
      markHealthy();
      (async () => {
        now += 10_000; // well past the deadline: it no longer applies
        await new Promise((r) => setTimeout(r, 300));
        c.exit(1);
      })().catch(() => {});
    };
    await launcher.run();
    expect(children[0]?.kills).toEqual([]);
    expect(children.map(versionOf)).toEqual(['1.1.0', '1.1.0']);
    expect(await linkedVersion(layout().current)).toBe('1.1.0');
  });

  it('starts the new version after the old one was SIGKILLed between switching and its exit', async () => {
    onSpawn = (c, n) => {
      if (n > 1) {
        markHealthy();
        launcher.stop();
        return;
      }
      (async () => {
        await switchLink(layout().current, '1.1.0');
        await writeUpgradeRecord(layout().record, { current: attempt('switched'), failed: [] });
        c.exit(null, 'SIGKILL');
      })().catch(() => {});
    };
    await launcher.run();
    expect(children.map(versionOf)).toEqual(['1.0.0', '1.1.0']);
    expect(sleeps[0]).toBe(RESTART_BASE_DELAY_MS);
    expect(await linkedVersion(layout().current)).toBe('1.1.0');
    expect((await readUpgradeRecord(layout().record)).current?.state).toBe('healthy');
  });

  it('finishes a switch the agent was killed in before it starts the new version', async () => {
    await writeUpgradeRecord(layout().record, { current: attempt('switching'), failed: [] });
    onSpawn = () => launcher.stop();
    await launcher.run();
    expect(children.map(versionOf)).toEqual(['1.1.0']);
    expect(await linkedVersion(layout().current)).toBe('1.1.0');
    expect((await readUpgradeRecord(layout().record)).current?.state).toBe('switched');
  });

  it('refuses to start without a current version, naming the install command', async () => {
    await rm(layout().current);
    await expect(launcher.run()).rejects.toThrow(new NotInstalledError(dir).message);
    expect(children).toHaveLength(0);
  });

  it('does not restart after it was told to stop while waiting to restart', async () => {
    onSpawn = (c) => {
      c.exit(1);
    };
    const deps: LauncherDeps = {
      spawn: (command, args, env) => {
        const child = new FakeChild(command, args, env);
        children.push(child);
        setImmediate(() => child.exit(1));
        return child;
      },
      now: () => now,
      sleep: (ms, wake) => {
        sleeps.push(ms);
        launcher.stop();
        return abortableSleep(60_000, wake);
      },
      logger: silentLogger,
    };
    launcher = new Launcher(dir, [], deps);
    await launcher.run();
    expect(children).toHaveLength(1);
    expect(sleeps).toEqual([RESTART_BASE_DELAY_MS]);
  });
});

describe('Launcher (real processes)', () => {
  let dir: string;
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the agent, starts the version it switched to on exit 75, and forwards SIGTERM', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-launcher-real-'));
    const layout = installLayout(dir);
    const out = join(dir, 'out.log');
    // 1.0.0 "upgrades": points current at 1.1.0, records the switch and asks for a restart.
    const oldMain = `
      import { appendFileSync, symlinkSync, renameSync, writeFileSync } from 'node:fs';
      import { join } from 'node:path';
      const d = process.env.${INSTALL_DIR_ENV};
      appendFileSync(${JSON.stringify(out)}, 'old ' + process.argv.slice(2).join(' ') + '\\n');
      symlinkSync('versions/1.1.0', join(d, 'current.tmp'));
      renameSync(join(d, 'current.tmp'), join(d, 'current'));
      writeFileSync(join(d, 'upgrade.json'), JSON.stringify({ current: ${JSON.stringify(attempt('switched', { healthDeadlineMs: 60_000 }))}, failed: [] }));
      process.exit(${EXIT_RESTART_NEW_VERSION});`;
    // 1.1.0 marks itself healthy and waits for SIGTERM.
    const newMain = `
      import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
      import { join } from 'node:path';
      const d = process.env.${INSTALL_DIR_ENV};
      const r = JSON.parse(readFileSync(join(d, 'upgrade.json'), 'utf8'));
      r.current.state = 'healthy';
      writeFileSync(join(d, 'upgrade.json'), JSON.stringify(r));
      appendFileSync(${JSON.stringify(out)}, 'new ' + process.argv.slice(2).join(' ') + '\\n');
      process.on('SIGTERM', () => { appendFileSync(${JSON.stringify(out)}, 'new got SIGTERM\\n'); process.exit(0); });
      setInterval(() => {}, 60_000);`;
    for (const [v, src] of [
      ['1.0.0', oldMain],
      ['1.1.0', newMain],
    ] as const) {
      await mkdir(join(dir, 'versions', v, 'dist/agent'), { recursive: true });
      await writeFile(join(dir, 'versions', v, 'dist/agent/main.mjs'), src);
      // main.js as the package has it, importing the module so `import` syntax works without a package.json.
      await writeFile(join(dir, 'versions', v, 'dist/agent/main.js'), "import('./main.mjs');\n");
      await writeFile(join(dir, 'versions', v, 'package.json'), '{"type":"module"}\n');
    }
    await switchLink(layout.current, '1.0.0');
    const launcher = new Launcher(dir, ['--name', 'h1'], {
      spawn: spawnAgent,
      now: () => Date.now(),
      sleep: abortableSleep,
      logger: silentLogger,
    });
    const running = launcher.run();
    await waitFor('the new version running', async () =>
      (await readFile(out, 'utf8').catch(() => '')).includes('new --name h1'),
    );
    launcher.stop('SIGTERM');
    await running;
    expect((await readFile(out, 'utf8')).split('\n').filter(Boolean)).toEqual([
      'old --name h1',
      'new --name h1',
      'new got SIGTERM',
    ]);
    expect((await readUpgradeRecord(layout.record)).current?.state).toBe('healthy');
  });
});
