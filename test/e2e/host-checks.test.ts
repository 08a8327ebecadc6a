/**
 * Host-side detection declared in Git, with real processes: a real controller on a real git repo and a
 * real agent process under a --root sandbox. HostChecks raise their events once per transition, through the
 * same path as process events: the controller routes them (a Route on the events channel to a file target,
 * read here) and the agent's Remediations react to them.
 * - disk: a threshold set below the sandbox file system's real usage (read here with statfs) raises one
 *   disk.full, seen by the controller and by a Remediation that writes a marker;
 * - command: `test -f FILE` failing 3 times in a row raises one check.failed; a success re-arms it;
 * - corefiles: a file dropped into the watched dir raises one corefile event with its path, and a core file
 *   that was there before the check started raises none.
 */
import {
  appendFile,
  mkdir,
  mkdtemp,
  readFile,
  rename,
  rm,
  statfs,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usedPercent } from '../../agent/engine/detect-logic.js';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const HOST = 'check-1';
/** A generous bound on every wait: the machine may be loaded (a bound, not a measurement). */
const WAIT_MS = 30_000;

/** One YAML document (JSON is valid YAML, so values are quoted exactly). */
function doc(kind: string, name: string, spec: Record<string, unknown>): string {
  return `apiVersion: gse/v1\nkind: ${kind}\nmetadata: ${JSON.stringify({ name })}\nspec: ${JSON.stringify(spec)}\n`;
}

interface Paths {
  markers: string;
  /** The check command's flag file: absent, the command fails. */
  flag: string;
  /** One line per run of the check command. */
  runs: string;
}

function fleet(threshold: number, p: Paths): Record<string, string> {
  const everyHost = { names: ['*'] };
  return {
    'fleet/events.yaml': [
      doc('StreamTarget', 'events-file', { file: { path: 'events.jsonl' } }),
      doc('Route', 'events', {
        channel: 'events',
        targets: [{ name: 'events-file' }],
        batch: { maxDelay: '20ms' },
      }),
    ].join('---\n'),
    'fleet/checks.yaml': [
      doc('HostCheck', 'sandbox-disk', {
        hosts: everyHost,
        interval: '200ms',
        disk: { mount: '/', usedPercentOver: threshold },
      }),
      doc('HostCheck', 'flag', {
        hosts: everyHost,
        interval: '200ms',
        command: { run: `echo run >> ${p.runs}; test -f ${p.flag}`, failuresInARow: 3, timeout: '10s' },
      }),
      doc('HostCheck', 'cores', {
        hosts: everyHost,
        interval: '200ms',
        corefiles: { dir: '/var/crash', pattern: 'core.*' },
      }),
    ].join('---\n'),
    'fleet/remediation.yaml': doc('Remediation', 'disk-full-marker', {
      on: { event: 'disk.full', match: { check: 'sandbox-disk' } },
      hosts: everyHost,
      run: { script: `echo "$GSE_EVENT $GSE_EVENT_RESOURCE" >> ${p.markers}/disk`, timeout: '10s' },
    }),
  };
}

interface RoutedEvent {
  type: string;
  resource?: string;
  fields: Record<string, unknown>;
}

describe('HostChecks raise their events once per transition', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let agent: AgentProcess;
  let root: string;
  let paths: Paths;
  let threshold: number;
  let used: number;

  /** The host events the controller routed to the file target, in order. */
  const routed = async (type?: string): Promise<RoutedEvent[]> => {
    const text = await readFile(join(ctl.stateDir, 'targets', 'events.jsonl'), 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { fields: RoutedEvent }).fields)
      .filter((e) => type === undefined || e.type === type);
  };
  const runCount = async () => (await readFile(paths.runs, 'utf8').catch(() => '')).split('\n').length - 1;
  /** Waits until the check command ran `more` times beyond now: every check was probed again meanwhile. */
  const moreRuns = async (more: number) => {
    const target = (await runCount()) + more;
    await waitFor(`${more} more check runs`, async () => (await runCount()) >= target, WAIT_MS);
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'gse-checks-root-'));
    const markers = await mkdtemp(join(tmpdir(), 'gse-checks-'));
    paths = { markers, flag: join(markers, 'flag'), runs: join(markers, 'runs') };
    // A core file from before the check started: never reported.
    await mkdir(join(root, 'var/crash'), { recursive: true });
    await writeFile(join(root, 'var/crash/core.old'), 'old');
    await utimes(join(root, 'var/crash/core.old'), new Date(2020, 0, 1), new Date(2020, 0, 1));
    // The sandbox's real usage, as the agent computes it (df's formula); the threshold is half of it.
    used = usedPercent(await statfs(root));
    threshold = Math.max(0.1, Math.floor(used * 5) / 10);
    repo = await gitRepo(fleet(threshold, paths));
    ctl = await startController(repo.dir, { path: 'fleet' });
    agent = await startAgentProcess({ controllerUrl: ctl.agentUrl, name: HOST, root });
  });
  afterAll(async () => {
    await agent?.cleanup();
    await ctl?.cleanup();
    await repo?.cleanup();
    if (root) await rm(root, { recursive: true, force: true });
    if (paths) await rm(paths.markers, { recursive: true, force: true });
  });

  it('raises one disk.full for a threshold below the real usage, seen by the controller and a Remediation', async () => {
    expect(used).toBeGreaterThan(threshold);
    await waitSynced(ctl, [HOST], await repo.head(), WAIT_MS);
    const [event] = await waitFor(
      'a routed disk.full',
      async () => {
        const found = await routed('disk.full');
        return found.length > 0 ? found : undefined;
      },
      WAIT_MS,
    );
    expect(event).toMatchObject({
      resource: 'HostCheck/sandbox-disk',
      fields: { mount: '/', check: 'sandbox-disk', thresholdPercent: threshold },
    });
    expect(event?.fields.usedPercent).toBeGreaterThan(threshold);
    await waitFor(
      'the Remediation marker',
      async () => (await readFile(join(paths.markers, 'disk'), 'utf8').catch(() => '')).includes('disk.full'),
      WAIT_MS,
    );
    // Many probes later, still over the threshold: still one event, and the rule ran once.
    await moreRuns(5);
    expect(await routed('disk.full')).toHaveLength(1);
    expect(await readFile(join(paths.markers, 'disk'), 'utf8')).toBe('disk.full HostCheck/sandbox-disk\n');
  }, 90_000);

  it('raises one check.failed after 3 failures in a row, and again only after a success re-armed it', async () => {
    const [failed] = await waitFor(
      'a routed check.failed',
      async () => {
        const found = await routed('check.failed');
        return found.length > 0 ? found : undefined;
      },
      WAIT_MS,
    );
    expect(failed).toMatchObject({
      resource: 'HostCheck/flag',
      fields: { check: 'flag', exitCode: 1, failures: 3 },
    });
    await moreRuns(4);
    expect(await routed('check.failed')).toHaveLength(1);

    await appendFile(paths.flag, 'ok');
    await moreRuns(2);
    await unlink(paths.flag);
    const both = await waitFor(
      'a second check.failed after the re-arm',
      async () => {
        const found = await routed('check.failed');
        return found.length >= 2 ? found : undefined;
      },
      WAIT_MS,
    );
    expect(both.map((e) => e.fields.failures)).toEqual([3, 3]);
  }, 90_000);

  it('raises one corefile event with the path of a core file dropped into the watched dir', async () => {
    // Written under another name and renamed, so no probe sees it half-written (a size of 0).
    await writeFile(join(root, 'var/crash/.partial'), 'core bytes');
    await rename(join(root, 'var/crash/.partial'), join(root, 'var/crash/core.4242'));
    await writeFile(join(root, 'var/crash/notes.txt'), 'not a core');
    const [core] = await waitFor(
      'a routed corefile',
      async () => {
        const found = await routed('corefile');
        return found.length > 0 ? found : undefined;
      },
      WAIT_MS,
    );
    expect(core).toMatchObject({
      resource: 'HostCheck/cores',
      fields: { path: '/var/crash/core.4242', dir: '/var/crash', size: 10, check: 'cores' },
    });
    await moreRuns(4);
    expect((await routed('corefile')).map((e) => e.fields.path)).toEqual(['/var/crash/core.4242']);
  }, 90_000);
});
