/**
 * `gsectl status -w` as a pipe sees it: the built CLI against a real controller prints the status once,
 * again when a commit changes it (not on every round), and exits 0 on SIGINT.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GSECTL_MAIN } from '../helpers/agent-process.js';
import { type RunningController, startController, TEST_ADMIN_TOKEN, waitFor } from '../helpers/controller.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const group = (name: string) =>
  `apiVersion: gse/v1\nkind: HostGroup\nmetadata:\n  name: ${name}\nspec:\n  match:\n    names: ["*"]\n  labels:\n    g: ${name}\n`;

describe('gsectl status -w', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  beforeAll(async () => {
    repo = await gitRepo({ 'fleet/g.yaml': group('first') });
    ctl = await startController(repo.dir, { path: 'fleet' });
    await waitFor(
      'the first revision',
      async () => (await ctl.api<{ revision: { applied: unknown } }>('/api/v1/status')).body.revision.applied,
    );
  });
  afterAll(async () => {
    await ctl?.cleanup();
    await repo?.cleanup();
  });

  it('prints a new view when the status changes and stops on SIGINT', async () => {
    const child = spawn(process.execPath, [GSECTL_MAIN, 'status', '-w', '--interval', '200ms'], {
      env: { ...process.env, GSE_SERVER: ctl.url, GSE_TOKEN: TEST_ADMIN_TOKEN, GSE_CA: ctl.caFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const exited = new Promise<number | null>((ok) => child.once('exit', ok));
    const first = await repo.head();
    await waitFor('the first view', () => out.includes(first.slice(0, 12)), 30_000);
    // Several rounds pass with nothing new: still one view.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(out.match(/^Revision:/gm)).toHaveLength(1);
    const second = await repo.commit({ 'fleet/g.yaml': group('second') }, 'second');
    await ctl.api('/api/v1/hooks/git', { method: 'POST' });
    await waitFor('a second view with the new revision', () => out.includes(second.slice(0, 12)), 30_000);
    expect(out.match(/^Revision:/gm)?.length).toBeGreaterThanOrEqual(2);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  }, 90_000);
});
