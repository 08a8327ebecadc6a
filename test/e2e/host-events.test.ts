/**
 * Host events that were declared but not raised, with a real controller, a real agent and real processes:
 * an `ensure: running` ProcessWatch whose process the agent starts raises `process.restarted` (matched by a
 * Remediation on the watch's name, routed to the events channel); `gse-agent push --event custom.<name>
 * --field k=v` (the built binary) raises a custom event that routes the same way and runs only the
 * Remediation whose `match` it fits; a name that is not custom.<name> is refused with a clear error.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_MAIN, type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { listExecutions, processGone, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const HOST = 'ev-1';
/** A sleep duration no other process uses, so the watch matches only this test's sleeps. */
const DURATION = `${4000 + Math.floor(Math.random() * 1000)}.${process.pid}${Math.floor(Math.random() * 1e6)}`;
const CMDLINE = `^sleep ${DURATION.replace('.', '\\.')}$`;
const PUSH_TIMEOUT_MS = 30_000;

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
      ensure: 'running',
      start: `exec sleep ${DURATION} </dev/null >/dev/null 2>&1`,
      probeInterval: '250ms',
    }),
    'fleet/remediation.yaml': [
      doc('Remediation', 'on-restarted', {
        on: { event: 'process.restarted', match: { process: 'svc' } },
        hosts: everyHost,
        run: { script: note('restarted'), timeout: '10s' },
        cooldown: '0s',
      }),
      doc('Remediation', 'backup-db', {
        on: { event: 'custom.backup_failed', match: { job: 'db' } },
        hosts: everyHost,
        run: { script: note('backup-db'), timeout: '10s' },
      }),
      doc('Remediation', 'backup-web', {
        on: { event: 'custom.backup_failed', match: { job: 'web' } },
        hosts: everyHost,
        run: { script: note('backup-web'), timeout: '10s' },
      }),
    ].join('---\n'),
    'fleet/events.yaml': `apiVersion: gse/v1
kind: StreamTarget
metadata: { name: events-file }
spec:
  file: { path: events/events.jsonl }
---
apiVersion: gse/v1
kind: Route
metadata: { name: events }
spec:
  channel: events
  targets: [{ name: events-file }]
  batch: { maxRecords: 1, maxDelay: 10ms }
`,
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

interface Run {
  code: number | null;
  stderr: string;
}

/** `gse-agent push ARGS` with the built binary. */
function agentPush(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AGENT_MAIN, 'push', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gse-agent push ${args.join(' ')} did not finish: ${stderr}`));
    }, PUSH_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

interface EventRecord {
  host: { name: string };
  fields: { type: string; resource?: string; fields: Record<string, unknown> };
}

describe('process.restarted and custom events from a real agent', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let agent: AgentProcess;
  let markers: string;

  beforeAll(async () => {
    markers = await mkdtemp(join(tmpdir(), 'gse-host-events-'));
    repo = await gitRepo(fleet(markers));
    ctl = await startController(repo.dir, { path: 'fleet' });
    agent = await startAgentProcess({ controllerUrl: ctl.agentUrl, name: HOST });
  });
  afterAll(async () => {
    await agent?.cleanup();
    for (const pid of await sleepPids().catch(() => [])) process.kill(pid, 'SIGKILL');
    await ctl?.cleanup();
    await repo?.cleanup();
    if (markers) await rm(markers, { recursive: true, force: true });
  });

  const log = async () =>
    (await readFile(join(markers, 'log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const events = async (type: string) =>
    (await readFile(join(ctl.stateDir, 'targets', 'events', 'events.jsonl'), 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as EventRecord)
      .filter((r) => r.fields.type === type);

  it('raises process.restarted when the agent starts the watched process, and its Remediation runs', async () => {
    await waitSynced(ctl, [HOST], await repo.head());
    // Nothing ran the sleep: the agent's first probe finds it down and starts it.
    const [first] = await waitFor(
      'process.restarted routed',
      async () => {
        const got = await events('process.restarted');
        return got.length > 0 ? got : undefined;
      },
      30_000,
    );
    const pids = await waitFor('the started sleep', async () => {
      const p = await sleepPids();
      return p.length > 0 ? p : undefined;
    });
    expect(first?.host.name).toBe(HOST);
    expect(first?.fields).toMatchObject({
      resource: 'ProcessWatch/svc',
      fields: { process: 'svc', name: 'svc', pids, restarts: 1 },
    });
    await waitFor('the process.restarted rule', async () => (await log()).length > 0, 20_000);
    expect(await log()).toEqual(['restarted process.restarted ProcessWatch/svc']);
    expect(await events('process.restart_failed')).toEqual([]);

    // Killed, it is started again (after the 1 s backoff): a second process.restarted, a second run.
    process.kill(pids[0] as number, 'SIGKILL');
    await waitFor(
      'a second process.restarted',
      async () => (await events('process.restarted')).length >= 2,
      30_000,
    );
    await waitFor('the second run', async () => (await log()).length >= 2, 20_000);
    expect(await log()).toEqual([
      'restarted process.restarted ProcessWatch/svc',
      'restarted process.restarted ProcessWatch/svc',
    ]);
  }, 90_000);

  it('raises a pushed custom event: routed on the events channel, only the matching Remediation runs', async () => {
    const before = (await log()).length;
    const run = await agentPush([
      '--state-dir',
      agent.stateDir,
      '--event',
      'custom.backup_failed',
      '--field',
      'job=db',
      '--field',
      'attempt:=2',
    ]);
    expect(run).toMatchObject({ code: 0 });
    expect(run.stderr).toContain('pushed 1 event');

    const [routed] = await waitFor(
      'custom.backup_failed routed',
      async () => {
        const got = await events('custom.backup_failed');
        return got.length > 0 ? got : undefined;
      },
      30_000,
    );
    expect(routed?.host.name).toBe(HOST);
    expect(routed?.fields.fields).toEqual({ job: 'db', attempt: 2 });

    const runs = await waitFor(
      'the backup-db run recorded',
      async () => {
        const rows = (await listExecutions(ctl, HOST)).filter((e) => e.resource === 'Remediation/backup-db');
        return rows.length > 0 && rows.every((r) => r.status !== 'running') ? rows : undefined;
      },
      30_000,
    );
    expect(runs).toHaveLength(1);
    expect(runs[0]?.status).toBe('succeeded');
    // A custom event is about no item: GSE_EVENT_RESOURCE is empty.
    expect((await log()).slice(before)).toEqual(['backup-db custom.backup_failed ']);
    expect((await listExecutions(ctl, HOST)).some((e) => e.resource === 'Remediation/backup-web')).toBe(
      false,
    );
  }, 60_000);

  it('refuses a pushed event whose name is not custom.<name>, saying what a name may be', async () => {
    const run = await agentPush(['--state-dir', agent.stateDir, '--event', 'process.down']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('"event" must be custom.<name>');
    expect(run.stderr).toContain('(got "process.down")');
    expect((await events('process.down')).every((r) => r.fields.resource === 'ProcessWatch/svc')).toBe(true);
  });
});
