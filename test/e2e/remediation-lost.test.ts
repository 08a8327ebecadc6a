/**
 * agent.lost with real processes: a real controller on a real git repo and three real agents, one of them
 * the runner. A SIGKILLed agent is raised as lost once after the rule's grace, the runner host runs the
 * script once with the lost host's name, and the decision chain is recorded; the agent coming back raises
 * agent.start (routed to a file target like host events); a rule removed by a commit no longer fires, and a
 * dry-run rule records what it would run and runs nothing.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { type ExecutionRow, waitApplied, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const HOSTS = ['ops-1', 'web-1', 'web-2'];

function rule(markers: string): string {
  return `apiVersion: gse/v1
kind: Remediation
metadata: { name: lost-web }
spec:
  on: { event: agent.lost, grace: 2s }
  hosts: { names: ["web-*"] }
  runner: { host: ops-1 }
  run:
    script: 'echo "lost $GSE_LOST_HOST $GSE_LOST_HOST_ID" >> ${markers}/lost'
    timeout: 10s
`;
}

/** A dry-run rule: records what it would run (the marker file) and runs nothing. */
function auditRule(markers: string): string {
  return `apiVersion: gse/v1
kind: Remediation
metadata: { name: lost-audit }
spec:
  on: { event: agent.lost, grace: 1s }
  hosts: { names: ["web-*"] }
  runner: { host: ops-1 }
  dryRun: true
  run:
    script: 'echo "audit $GSE_LOST_HOST" >> ${markers}/lost'
`;
}

const events = `apiVersion: gse/v1
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
`;

interface RemediationRow extends ExecutionRow {
  remediation?: {
    name: string;
    decision: string;
    revision: string;
    event: { type: string; fields: Record<string, unknown> };
  };
}

describe('agent.lost on the controller', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let agents: Map<string, AgentProcess>;
  let markers: string;

  beforeAll(async () => {
    markers = await mkdtemp(join(tmpdir(), 'gse-lost-'));
    repo = await gitRepo({ 'fleet/lost.yaml': rule(markers), 'fleet/events.yaml': events });
    ctl = await startController(repo.dir, { path: 'fleet' });
    agents = new Map();
    for (const name of HOSTS)
      agents.set(name, await startAgentProcess({ controllerUrl: ctl.agentUrl, name }));
  });
  afterAll(async () => {
    for (const a of agents?.values() ?? []) await a.cleanup();
    await ctl?.cleanup();
    await repo?.cleanup();
    if (markers) await rm(markers, { recursive: true, force: true });
  });

  const lostLog = async () =>
    (await readFile(join(markers, 'lost'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const eventRecords = async () =>
    (await readFile(join(ctl.stateDir, 'targets', 'events', 'events.jsonl'), 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { fields: { type: string; fields: Record<string, unknown> } });
  const decisions = async () =>
    (await ctl.api<{ items: RemediationRow[] }>('/api/v1/executions?remediation=lost-web')).body.items;

  it('runs the rule once on the runner host, records the chain, and raises agent.start on return', async () => {
    await waitSynced(ctl, HOSTS, await repo.head());
    await agents.get('web-1')?.kill('SIGKILL');

    await waitFor('the runner to run the script', async () => (await lostLog()).length > 0, 30_000);
    const runs = await waitFor(
      'the run recorded as finished',
      async () => {
        const rows = await decisions();
        return rows.length > 0 && rows.every((r) => r.status !== 'running') ? rows : undefined;
      },
      30_000,
    );
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ hostId: 'ops-1', status: 'succeeded', resource: 'Remediation/lost-web' });
    expect(runs[0]?.remediation).toMatchObject({
      name: 'lost-web',
      decision: 'ran',
      revision: await repo.head(),
      event: { type: 'agent.lost', fields: { host: 'web-1', name: 'web-1' } },
    });

    await agents.get('web-1')?.restart();
    await waitFor(
      'agent.start for web-1',
      async () =>
        (await eventRecords()).some(
          (r) => r.fields.type === 'agent.start' && r.fields.fields.host === 'web-1',
        ),
      30_000,
    );
    const lost = (await eventRecords()).filter((r) => r.fields.type === 'agent.lost');
    expect(lost.map((r) => r.fields.fields.host)).toEqual(['web-1']);
    expect(await lostLog()).toEqual(['lost web-1 web-1']);
  }, 120_000);

  it('stops firing a rule a commit removed: the lost host is raised, the removed rule runs nothing', async () => {
    // The commit removes lost-web and adds a dry-run rule with a short grace, so the loss is raised in
    // seconds (a host no rule selects waits the default grace, 1m; that case is a unit test).
    const sha = await repo.commit(
      { 'fleet/lost.yaml': null, 'fleet/audit.yaml': auditRule(markers) },
      'replace the agent.lost rule by a dry run',
    );
    await waitApplied(ctl, sha);
    await agents.get('web-2')?.kill('SIGKILL');
    const audit = await waitFor(
      'the dry run decided for web-2',
      async () => {
        const rows = (await ctl.api<{ items: RemediationRow[] }>('/api/v1/executions?remediation=lost-audit'))
          .body.items;
        return rows.length > 0 ? rows : undefined;
      },
      30_000,
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ status: 'skipped', remediation: { decision: 'dryRun', revision: sha } });
    expect(audit[0]?.remediation?.event.fields).toMatchObject({ host: 'web-2' });
    expect(
      (await eventRecords()).some((r) => r.fields.type === 'agent.lost' && r.fields.fields.host === 'web-2'),
    ).toBe(true);
    expect(await lostLog()).toEqual(['lost web-1 web-1']);
    expect(await decisions()).toHaveLength(1);
  }, 60_000);
});
