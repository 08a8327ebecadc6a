/**
 * The documented remediation flow, with real processes: a real controller on a real git repo, a real agent
 * process, and a real `sleep` watched by a ProcessWatch. Killing the sleep raises `process.down` carrying
 * the watch's name as `process`; the Remediation matching `{ process: <watch> }` runs its script, which
 * writes a marker and starts the sleep again; `process.up` follows and its Remediation runs too; a
 * Remediation matching another watch does not run; every run is recorded as an execution.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { listExecutions, processGone, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const HOST = 'rem-1';
/** A sleep duration no other process uses, so the watch's cmdline matches only this test's sleeps. */
const DURATION = `${3000 + Math.floor(Math.random() * 1000)}.${process.pid}${Math.floor(Math.random() * 1e6)}`;
const CMDLINE = `^sleep ${DURATION.replace('.', '\\.')}$`;

/** One YAML document (JSON is valid YAML, so values are quoted exactly). */
function doc(kind: string, name: string, spec: Record<string, unknown>): string {
  return `apiVersion: gse/v1\nkind: ${kind}\nmetadata: ${JSON.stringify({ name })}\nspec: ${JSON.stringify(spec)}\n`;
}

function fleet(markers: string): Record<string, string> {
  const note = (what: string) => `echo "${what} $GSE_EVENT $GSE_EVENT_RESOURCE" >> ${markers}/log`;
  const everyHost = { names: ['*'] };
  return {
    'fleet/watch.yaml': doc('ProcessWatch', 'svc', {
      process: { cmdline: CMDLINE },
      hosts: everyHost,
      probeInterval: '250ms',
    }),
    'fleet/remediation.yaml': [
      doc('Remediation', 'restart-svc', {
        on: { event: 'process.down', match: { process: 'svc' } },
        hosts: everyHost,
        run: {
          script: `${note('restarted')}\nsleep ${DURATION} </dev/null >/dev/null 2>&1 &\n`,
          interpreter: '/bin/sh',
          timeout: '10s',
        },
        cooldown: '1s',
      }),
      doc('Remediation', 'svc-up', {
        on: { event: 'process.up', match: { process: 'svc' } },
        hosts: everyHost,
        run: { script: note('up'), timeout: '10s' },
      }),
      doc('Remediation', 'other-down', {
        on: { event: 'process.down', match: { process: 'other' } },
        hosts: everyHost,
        run: { script: note('wrong'), timeout: '10s' },
      }),
    ].join('---\n'),
  };
}

/** The pids of this test's sleeps, from /proc. */
async function sleepPids(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline === `sleep\0${DURATION}\0` && !(await processGone(Number(entry)))) pids.push(Number(entry));
  }
  return pids;
}

describe('a Remediation matching the documented process key', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let agent: AgentProcess;
  let markers: string;
  let firstPid: number;

  beforeAll(async () => {
    // Running before the agent first probes it, so the first probe sees it up (no event).
    firstPid = spawn('sleep', [DURATION], { stdio: 'ignore' }).pid as number;
    markers = await mkdtemp(join(tmpdir(), 'gse-remediation-'));
    repo = await gitRepo(fleet(markers));
    ctl = await startController(repo.dir, { path: 'fleet' });
    agent = await startAgentProcess({ controllerUrl: ctl.agentUrl, name: HOST });
  });
  afterAll(async () => {
    for (const pid of await sleepPids().catch(() => [])) process.kill(pid, 'SIGKILL');
    await agent?.cleanup();
    await ctl?.cleanup();
    await repo?.cleanup();
    if (markers) await rm(markers, { recursive: true, force: true });
  });

  it('restarts a killed watched process, runs the process.up rule, and records both runs', async () => {
    await waitSynced(ctl, [HOST], await repo.head());
    process.kill(firstPid, 'SIGKILL');
    await waitFor('the killed sleep to be gone', () => processGone(firstPid));

    const log = () => readFile(join(markers, 'log'), 'utf8').catch(() => '');
    await waitFor(
      'the restart and the process.up rule to run',
      async () => (await log()).includes('up '),
      20_000,
    );
    const restarted = await waitFor('the restarted sleep', async () => {
      const pids = (await sleepPids()).filter((p) => p !== firstPid);
      return pids.length > 0 ? pids : undefined;
    });
    expect(restarted.length).toBe(1);
    expect((await log()).split('\n').filter(Boolean)).toEqual([
      'restarted process.down ProcessWatch/svc',
      'up process.up ProcessWatch/svc',
    ]);

    const runs = await waitFor('both remediation runs recorded', async () => {
      const rows = (await listExecutions(ctl, HOST)).filter((e) => e.reason.startsWith('remediation:'));
      return rows.length >= 2 && rows.every((r) => r.status !== 'running') ? rows : undefined;
    });
    expect(runs.map((r) => [r.reason, r.resource, r.status]).sort()).toEqual([
      ['remediation:Remediation/restart-svc', 'Remediation/restart-svc', 'succeeded'],
      ['remediation:Remediation/svc-up', 'Remediation/svc-up', 'succeeded'],
    ]);
    // The rule for another watch never ran.
    expect(await log()).not.toContain('wrong');
  }, 90_000);
});
