/**
 * An agent.lost Remediation with a webhook runner, with real parts: a real controller (its Git repo declaring
 * the rule and a Notification on remediation.*), real agents, and a real HTTP receiver that verifies every
 * signature. A SIGKILLed agent gets exactly one signed POST (`X-GSE-Signature: sha256=<HMAC-SHA256 of the
 * body>` with the callback secret), the Notification gets the decision, and a tampered body is refused.
 */
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { httpCall, type RunningController, startController, waitFor } from '../helpers/controller.js';
import { type ExecutionRow, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

const HOSTS = ['ops-1', 'web-1'];
const NOTIFY_ENV = 'GSE_TEST_WEBHOOK_NOTIFY_SECRET';
const NOTIFY_SECRET = 'notify-secret-webhook-0123456789';
const CALLBACK_ENV = 'GSE_TEST_WEBHOOK_CALLBACK_SECRET';
const CALLBACK_SECRET = 'callback-secret-webhook-0123456789';

function fleetYaml(url: string): string {
  return `apiVersion: gse/v1
kind: Remediation
metadata: { name: lost-hook }
spec:
  on: { event: agent.lost, grace: 1s }
  hosts: { names: ["web-*"] }
  runner: { webhook: "${url}" }
  run: { script: 'true' }
---
apiVersion: gse/v1
kind: Notification
metadata: { name: remediations }
spec:
  on: [remediation.ran, remediation.skipped]
  url: ${url}
  secretFrom: { env: ${NOTIFY_ENV} }
---
apiVersion: gse/v1
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
}

interface RemediationRow extends ExecutionRow {
  remediation?: { name: string; decision: string; revision: string; event: { type: string } };
}

describe('agent.lost with a webhook runner', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let receiver: Receiver;
  const agents = new Map<string, AgentProcess>();

  beforeAll(async () => {
    process.env[NOTIFY_ENV] = NOTIFY_SECRET;
    receiver = await startReceiver([NOTIFY_SECRET, CALLBACK_SECRET]);
    repo = await gitRepo({ 'fleet/lost.yaml': fleetYaml(receiver.url) });
    ctl = await startController(repo.dir, {
      path: 'fleet',
      secretEnv: [NOTIFY_ENV],
      callbackSecretEnv: CALLBACK_ENV,
      env: { [CALLBACK_ENV]: CALLBACK_SECRET },
    });
    for (const name of HOSTS)
      agents.set(name, await startAgentProcess({ controllerUrl: ctl.agentUrl, name }));
  });
  afterAll(async () => {
    for (const a of agents.values()) await a.cleanup();
    await ctl?.cleanup();
    await receiver?.close();
    await repo?.cleanup();
    delete process.env[NOTIFY_ENV];
  });

  const eventRecords = async () =>
    (await readFile(join(ctl.stateDir, 'targets', 'events', 'events.jsonl'), 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { fields: { type: string; fields: Record<string, unknown> } }).fields);
  const ofType = (type: string) => receiver.accepted.filter((d) => d.body.type === type);

  it('POSTs the lost host once, signed with the callback secret, and notifies the decision', async () => {
    await waitSynced(ctl, HOSTS, await repo.head());
    await agents.get('web-1')?.kill('SIGKILL');

    const [hook] = await waitFor(
      'the webhook POST',
      () => {
        const got = ofType('remediation.webhook');
        return got.length > 0 ? got : undefined;
      },
      30_000,
    );
    const [ran] = await waitFor(
      'the remediation.ran notification',
      () => {
        const got = ofType('remediation.ran');
        return got.length > 0 ? got : undefined;
      },
      30_000,
    );
    if (!hook || !ran) throw new Error('unreachable');

    // The signature is HMAC-SHA256 over the exact body, with the controller's callback secret.
    const expected = `sha256=${createHmac('sha256', CALLBACK_SECRET).update(hook.raw).digest('hex')}`;
    expect(hook.headers['x-gse-signature']).toBe(expected);
    expect(hook.body).toMatchObject({
      type: 'remediation.webhook',
      remediation: 'lost-hook',
      revision: await repo.head(),
      host: { id: 'web-1', name: 'web-1' },
      event: { type: 'agent.lost', fields: { host: 'web-1', name: 'web-1' } },
    });
    expect(typeof hook.body.id).toBe('string');

    const notifySig = `sha256=${createHmac('sha256', NOTIFY_SECRET).update(ran.raw).digest('hex')}`;
    expect(ran.headers['x-gse-signature']).toBe(notifySig);
    expect(ran.body).toMatchObject({
      type: 'remediation.ran',
      notification: 'remediations',
      host: 'web-1',
      remediation: 'lost-hook',
      decision: 'ran',
      revision: await repo.head(),
      event: { type: 'agent.lost', fields: { host: 'web-1' } },
      execution: { status: 'succeeded' },
    });
    expect(String((ran.body.execution as { stdout: string }).stdout)).toContain(String(hook.body.id));

    const rows = (await ctl.api<{ items: RemediationRow[] }>('/api/v1/executions?remediation=lost-hook')).body
      .items;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ hostId: 'web-1', status: 'succeeded', remediation: { decision: 'ran' } });

    // Later sweeps do not decide the loss again: the agent's return (raised by a later sweep) comes and
    // still only one POST was made.
    await agents.get('web-1')?.restart();
    await waitFor(
      'agent.start for web-1',
      async () => (await eventRecords()).some((r) => r.type === 'agent.start' && r.fields.host === 'web-1'),
      30_000,
    );
    expect((await eventRecords()).filter((r) => r.type === 'agent.lost')).toHaveLength(1);
    expect(ofType('remediation.webhook')).toHaveLength(1);
    expect(
      receiver
        .unique()
        .map((d) => d.body.type)
        .sort(),
    ).toEqual(['remediation.ran', 'remediation.webhook']);
  }, 60_000);

  it('refuses the webhook body once tampered with (the signature no longer verifies)', async () => {
    const [hook] = ofType('remediation.webhook');
    if (!hook) throw new Error('no webhook POST to replay');
    const rejected = receiver.rejected;
    const tampered = hook.raw.replace('"web-1"', '"web-9"');
    expect(tampered).not.toBe(hook.raw);
    const res = await httpCall(receiver.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-gse-signature': String(hook.headers['x-gse-signature']),
      },
      body: tampered,
    });
    expect(res.status).toBe(401);
    expect(receiver.rejected).toBe(rejected + 1);
  });
});
