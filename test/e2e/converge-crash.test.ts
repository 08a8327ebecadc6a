/**
 * A SIGKILL at a random point of a 200-file converge: every managed file is its old content or its new one
 * (never partial, never a stray temp file once the agent is back), and the report after the restart is true
 * (each file Synced with the hash on disk). Real git, real controller, real agent processes.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { configFileYaml, waitSynced } from '../helpers/e2e-fleet.js';
import { gitRepo } from '../helpers/git-repo.js';

const COUNT = 200;
const DIR = '/etc/many';
/** Longest wait after the first sign of the converge before the kill (random below it). */
const MAX_KILL_DELAY_MS = 120;

const name = (i: number) => `f-${String(i).padStart(3, '0')}`;
/** ~1 KiB, distinct per file and version. */
function contentOf(i: number, version: number): string {
  const line = `key_${i} = version ${version} ${'x'.repeat(40)}\n`;
  return `# file ${i} v${version}\n${line.repeat(Math.ceil(1000 / line.length))}`;
}
function fleet(version: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 1; i <= COUNT; i++)
    files[`fleet/${name(i)}.yaml`] = configFileYaml({
      name: name(i),
      path: `${DIR}/${name(i)}.conf`,
      content: contentOf(i, version),
    });
  return files;
}
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

interface ResourceRow {
  key: string;
  state: string;
  observedHash?: string;
}

describe('converge crash safety', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  /** Polls until the agent visibly started writing version `version` (a temp file or a new file). */
  async function firstSignOfWrite(a: AgentProcess, version: number): Promise<void> {
    const marker = `v${version}\n`;
    await waitFor(
      `the agent writing v${version}`,
      async () => {
        const names = await readdir(a.path(DIR)).catch(() => [] as string[]);
        if (names.some((n) => n.includes('.gse-tmp-'))) return true;
        const first = await readFile(a.path(`${DIR}/${name(1)}.conf`), 'utf8').catch(() => '');
        return first.includes(marker);
      },
      20_000,
    );
  }

  it('leaves every file old or new, and reports the truth, when SIGKILLed at random points', async () => {
    const repo = await gitRepo(fleet(1));
    cleanups.push(() => repo.cleanup());
    const ctl: RunningController = await startController(repo.dir, { path: 'fleet' });
    cleanups.push(() => ctl.cleanup());
    const a = await startAgentProcess({ controllerUrl: ctl.agentUrl, name: 'crash-files' });
    cleanups.push(() => a.cleanup());

    // Round 1 kills the creation of 200 new files (the agent starts on v1); rounds 2 and 3 kill updates.
    let previous: number | undefined;
    for (const version of [1, 2, 3]) {
      if (version > 1) {
        await repo.commit(fleet(version), `v${version}`);
        await ctl.api('/api/v1/hooks/git', { method: 'POST' });
      }
      await firstSignOfWrite(a, version);
      const delay = Math.floor(Math.random() * MAX_KILL_DELAY_MS);
      await new Promise((r) => setTimeout(r, delay));
      await a.kill('SIGKILL');

      // Right after the kill: each file is whole, either the version before or this one.
      for (let i = 1; i <= COUNT; i++) {
        const text = await readFile(a.path(`${DIR}/${name(i)}.conf`), 'utf8').catch(() => undefined);
        const allowed = [contentOf(i, version), previous === undefined ? undefined : contentOf(i, previous)];
        expect(allowed, `${name(i)} after a kill ${delay} ms into v${version}`).toContain(text);
      }

      await waitFor('the agent seen disconnected', async () => !ctl.controller.hub.session('crash-files'));
      await a.restart();
      await waitSynced(ctl, ['crash-files'], await repo.head(), 30_000);

      // Back up: every file is this version, no temp file is left, and the report says so file by file.
      for (let i = 1; i <= COUNT; i++)
        expect(await a.read(`${DIR}/${name(i)}.conf`)).toBe(contentOf(i, version));
      const names = await readdir(a.path(DIR));
      expect(names.filter((n) => !n.endsWith('.conf'))).toEqual([]);
      expect(names).toHaveLength(COUNT);
      const rows = await waitFor('every file reported Synced', async () => {
        const { body } = await ctl.api<{ resources: ResourceRow[] }>('/api/v1/hosts/crash-files');
        const files = body.resources.filter((r) => r.key.startsWith('ConfigFile/'));
        return files.length === COUNT && files.every((r) => r.state === 'Synced') ? files : undefined;
      });
      for (const r of rows) {
        const i = Number(r.key.slice('ConfigFile/f-'.length));
        expect(r.observedHash, r.key).toBe(sha256(contentOf(i, version)));
      }
      // Every file the agent created is in its ownership ledger (so prune may remove it later).
      const owned = JSON.parse(await readFile(join(a.stateDir, 'owned.json'), 'utf8')) as { paths: string[] };
      expect(owned.paths.filter((p) => p.startsWith(DIR))).toHaveLength(COUNT);
      previous = version;
    }
  }, 180_000);
});
