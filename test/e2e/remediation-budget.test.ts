/**
 * Remediation budgets with real processes: a real controller, a real agent and a real `sleep` watched by a
 * ProcessWatch, killed again and again. One rule restarts it under a long cooldown, one only notes it under
 * an hourly budget of one, one is a dry run. Every decision (ran, cooldown, budget, dryRun) is recorded; the
 * agent is restarted (its first probe sees the process down) and the cooldown and the budget still hold; the dry run never runs anything.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { processGone, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const HOST = 'budget-1';
const DURATION = `${3000 + Math.floor(Math.random() * 1000)}.${process.pid}${Math.floor(Math.random() * 1e6)}`;
const CMDLINE = `^sleep ${DURATION.replace('.', '\\.')}$`;

function doc(kind: string, name: string, spec: Record<string, unknown>): string {
  return `apiVersion: gse/v1\nkind: ${kind}\nmetadata: ${JSON.stringify({ name })}\nspec: ${JSON.stringify(spec)}\n`;
}

function fleet(markers: string): Record<string, string> {
  const on = { event: 'process.down', match: { process: 'svc' } };
  const hosts = { names: ['*'] };
  return {
    'fleet/watch.yaml': doc('ProcessWatch', 'svc', {
      process: { cmdline: CMDLINE },
      hosts,
      probeInterval: '250ms',
    }),
    'fleet/remediation.yaml': [
      doc('Remediation', 'restart-svc', {
        on,
        hosts,
        run: {
          script: `echo restarted >> ${markers}/log\nsleep ${DURATION} </dev/null >/dev/null 2>&1 &\n`,
          interpreter: '/bin/sh',
          timeout: '10s',
        },
        cooldown: '1h',
        maxPerHour: 10,
      }),
      doc('Remediation', 'note-svc', {
        on,
        hosts,
        run: { script: `echo noted >> ${markers}/log`, timeout: '10s' },
        cooldown: '0s',
        maxPerHour: 1,
      }),
      doc('Remediation', 'dry-svc', {
        on,
        hosts,
        run: { script: `echo dry >> ${markers}/log`, timeout: '10s' },
        cooldown: '0s',
        maxPerHour: 100,
        dryRun: true,
      }),
    ].join('---\n'),
    'fleet/events.yaml': [
      doc('StreamTarget', 'events-file', { file: { path: 'events/events.jsonl' } }),
      doc('Route', 'events', {
        channel: 'events',
        targets: [{ name: 'events-file' }],
        batch: { maxRecords: 1, maxDelay: '10ms' },
      }),
    ].join('---\n'),
  };
}

async function sleepPids(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline === `sleep\0${DURATION}\0` && !(await processGone(Number(entry)))) pids.push(Number(entry));
  }
  return pids;
}

interface Row {
  id: string;
  status: string;
  exitCode: number | null;
  stdoutTail: string;
  startedAt: string;
  remediation?: { decision: string; detail?: string; event: { type: string } };
}

describe('remediation budgets across an agent restart', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let agent: AgentProcess;
  let markers: string;

  beforeAll(async () => {
    spawn('sleep', [DURATION], { stdio: 'ignore' });
    markers = await mkdtemp(join(tmpdir(), 'gse-budget-'));
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

  const log = async () =>
    (await readFile(join(markers, 'log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const events = async (type: string) =>
    (await readFile(join(ctl.stateDir, 'targets', 'events', 'events.jsonl'), 'utf8').catch(() => ''))
      .split('\n')
      .filter((l) => l.includes(`"type":"${type}"`)).length;
  const decisions = async (name: string) =>
    (await ctl.api<{ items: Row[] }>(`/api/v1/executions?remediation=${name}`)).body.items
      .filter((r) => r.status !== 'running')
      .sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.id.localeCompare(b.id));
  const decided = async (n: number) =>
    waitFor(
      `${n} decisions per rule`,
      async () => {
        const all = await Promise.all(['restart-svc', 'note-svc', 'dry-svc'].map(decisions));
        return all.every((rows) => rows.length >= n) ? all : undefined;
      },
      30_000,
    );
  /** Kills the one running sleep once the agent has seen it up (`ups` process.up events so far). */
  const killWhenSeenUp = async (ups: number) => {
    await waitFor('the agent to see the process up', async () => (await events('process.up')) >= ups, 30_000);
    const [pid] = await waitFor('one running sleep', async () => {
      const pids = await sleepPids();
      return pids.length === 1 ? pids : undefined;
    });
    process.kill(pid as number, 'SIGKILL');
    await waitFor('the sleep to be gone', () => processGone(pid as number));
  };

  it('records ran, cooldown, budget and dry-run decisions, and the budget holds after a restart', async () => {
    await waitSynced(ctl, [HOST], await repo.head());
    // The sleep started before the agent: its first probe sees it up, with no event.
    await killWhenSeenUp(0);
    await decided(1);
    // restart-svc started the sleep again; kill it once the agent saw it up: cooldown and budget now.
    await killWhenSeenUp(1);
    await decided(2);
    // The process stays down (restart-svc is in cooldown). A restarted agent's first probe sees it down:
    // process.down again, decided against the budgets it kept on disk.
    await agent.restart();
    const [restart, note, dry] = await decided(3);

    expect(restart?.map((r) => r.remediation?.decision)).toEqual(['ran', 'cooldown', 'cooldown']);
    expect(note?.map((r) => r.remediation?.decision)).toEqual(['ran', 'budget', 'budget']);
    expect(dry?.map((r) => r.remediation?.decision)).toEqual(['dryRun', 'dryRun', 'dryRun']);
    expect(restart?.[0]).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect(restart?.[1]).toMatchObject({ status: 'skipped', exitCode: null });
    expect(dry?.[0]?.stdoutTail).toContain(`would run: echo dry >> ${markers}/log`);
    expect(restart?.every((r) => r.remediation?.event.type === 'process.down')).toBe(true);
    // What ran: one restart and one note; the dry run wrote nothing.
    expect((await log()).sort()).toEqual(['noted', 'restarted']);
  }, 180_000);
});
