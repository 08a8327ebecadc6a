/**
 * LostRemediation with the in-memory store and fake exec / outcome sinks: what each agent.lost decision
 * does and records (runner host ran, runner offline, webhook queued or refused, dry run, cooldown skip).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { RemediationTask } from '../../src/controller/exec-service.js';
import { LostRemediation, type Outcomes, type SweptHost } from '../../src/controller/lost-remediation.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { CallbackSecretMissingError } from '../../src/notify/notifier.js';
import type { HostEvent } from '../../src/protocol/messages.js';
import type { Remediation, RemediationSpec } from '../../src/spec/types.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { ExecutionRecord, JsonValue } from '../../src/store/types.js';
import { makeRevision } from '../helpers/revision.js';

const T0 = Date.UTC(2026, 0, 1);
const GRACE_MS = 2_000;

function rule(name: string, over: Partial<RemediationSpec> = {}): Remediation {
  return {
    apiVersion: 'gse/v1',
    kind: 'Remediation',
    metadata: { name },
    pos: { file: 'lost.yaml', line: 1, col: 1 },
    spec: {
      on: { event: 'agent.lost' },
      hosts: { names: ['web-*'] },
      run: { run: 'echo "lost $GSE_LOST_HOST"', script: 'echo "lost $GSE_LOST_HOST"', timeoutMs: 10_000 },
      graceMs: GRACE_MS,
      runner: { host: 'ops-1' },
      cooldownMs: 0,
      maxConcurrent: 1,
      maxPerHour: 100,
      dryRun: false,
      ...over,
    },
  };
}

interface Harness {
  lost: LostRemediation;
  store: MemoryStore;
  tasks: Array<{ hostId: string; task: RemediationTask }>;
  outcomes: ExecutionRecord[];
  webhooks: Array<{ url: string; body: Record<string, JsonValue> }>;
  routed: HostEvent[];
  clock: { now: number };
  web1: SweptHost;
}

function harness(
  rules: Remediation[],
  opts: { runnerOnline?: boolean; webhook?: Outcomes['webhook'] } = {},
): Harness {
  const store = MemoryStore.open();
  const clock = { now: T0 };
  const web1: SweptHost = {
    hostId: 'web-1',
    overdue: false,
    lastSeenMs: T0,
    name: 'web-1',
    ips: ['10.0.0.1'],
    cloudId: 0,
    labels: {},
  };
  const h: Omit<Harness, 'lost'> = { store, tasks: [], outcomes: [], webhooks: [], routed: [], clock, web1 };
  const lost = new LostRemediation({
    store,
    exec: {
      runRemediation: async (hostId, task) => {
        h.tasks.push({ hostId, task });
        return true;
      },
    },
    hosts: () => [web1],
    revision: () => makeRevision(rules, {}, 'rev-7'),
    runnerOf: (name) => (opts.runnerOnline !== false && name === 'ops-1' ? 'ops-1' : undefined),
    routeEvent: async (_host, event) => {
      h.routed.push(event);
    },
    outcomes: {
      remediation: async (rec) => {
        h.outcomes.push(rec);
      },
      webhook:
        opts.webhook ??
        (async (url, body) => {
          h.webhooks.push({ url, body });
          return `delivery-${h.webhooks.length}`;
        }),
    },
    logger: silentLogger,
    now: () => clock.now,
    startedAt: T0 - 60_000,
  });
  return { ...h, lost };
}

/** web-1 goes silent at `at` and the sweep runs past its grace. */
async function loseHost(h: Harness, at: number): Promise<void> {
  h.web1.overdue = true;
  h.web1.lastSeenMs = at;
  h.clock.now = at + GRACE_MS;
  await h.lost.sweep();
}

/** web-1 reports again at `at` and a sweep sees it. */
async function hostBack(h: Harness, at: number): Promise<void> {
  h.web1.overdue = false;
  h.web1.lastSeenMs = at;
  h.clock.now = at;
  await h.lost.sweep();
}

async function records(h: Harness): Promise<ExecutionRecord[]> {
  return (await h.store.listExecutions({ limit: 100 })).items;
}

describe('LostRemediation', () => {
  let h: Harness;

  describe('with a runner host', () => {
    beforeEach(() => {
      h = harness([rule('lost-web')]);
    });

    it('sends the script to the runner host with the lost host in its environment and the chain', async () => {
      await loseHost(h, T0);
      expect(h.tasks).toHaveLength(1);
      const { hostId, task } = h.tasks[0] as { hostId: string; task: RemediationTask };
      expect(hostId).toBe('ops-1');
      expect(task).toMatchObject({
        reason: 'remediation:Remediation/lost-web',
        script: 'echo "lost $GSE_LOST_HOST"',
        timeoutMs: 10_000,
        env: {
          GSE_EVENT: 'agent.lost',
          GSE_LOST_HOST: 'web-1',
          GSE_LOST_HOST_ID: 'web-1',
          GSE_LOST_HOST_IP: '10.0.0.1',
        },
        remediation: {
          name: 'lost-web',
          revision: 'rev-7',
          decision: 'ran',
          event: { type: 'agent.lost', fields: { host: 'web-1', name: 'web-1' } },
        },
      });
      // The run's record and outcome come with its result (ExecService), not from here.
      expect(await records(h)).toEqual([]);
      expect(h.outcomes).toEqual([]);
      expect(h.routed.map((e) => e.type)).toEqual(['agent.lost']);
    });

    it('raises and decides once per loss, not once per sweep', async () => {
      await loseHost(h, T0);
      h.clock.now += 5_000;
      await h.lost.sweep();
      await h.lost.sweep();
      expect(h.tasks).toHaveLength(1);
      expect(h.routed.map((e) => e.type)).toEqual(['agent.lost']);
    });

    it('does not decide before the grace has passed', async () => {
      h.web1.overdue = true;
      h.web1.lastSeenMs = T0;
      h.clock.now = T0 + GRACE_MS - 1;
      await h.lost.sweep();
      expect(h.tasks).toEqual([]);
      expect(h.routed).toEqual([]);
    });
  });

  it('records a failed run naming the runner when the runner host is offline', async () => {
    h = harness([rule('lost-web')], { runnerOnline: false });
    await loseHost(h, T0);
    expect(h.tasks).toEqual([]);
    const [rec] = await records(h);
    expect(rec).toMatchObject({
      hostId: 'ops-1',
      status: 'failed',
      resource: 'Remediation/lost-web',
      stderrTail: 'runner host ops-1 is not connected (not run)',
      remediation: { decision: 'ran', detail: 'runner host ops-1 is not connected (not run)' },
    });
    expect(h.outcomes.map((r) => r.status)).toEqual(['failed']);
  });

  it('queues a signed webhook POST and records it succeeded with the delivery id', async () => {
    const url = 'https://ops.example.com/lost';
    h = harness([rule('lost-hook', { runner: { webhook: url } })]);
    await loseHost(h, T0);
    expect(h.webhooks).toHaveLength(1);
    expect(h.webhooks[0]).toMatchObject({
      url,
      body: {
        type: 'remediation.webhook',
        remediation: 'lost-hook',
        revision: 'rev-7',
        host: { id: 'web-1', name: 'web-1', ips: ['10.0.0.1'], cloudId: 0 },
        event: { type: 'agent.lost', fields: { host: 'web-1' } },
      },
    });
    const [rec] = await records(h);
    expect(rec).toMatchObject({
      hostId: 'web-1',
      status: 'succeeded',
      command: `POST ${url}`,
      remediation: { name: 'lost-hook', decision: 'ran', revision: 'rev-7' },
    });
    expect(rec?.stdoutTail).toContain('delivery-1');
    expect(h.outcomes).toHaveLength(1);
    expect(h.outcomes[0]?.id).toBe(rec?.id);
  });

  it('records a webhook run as failed, with the reason, when the controller has no callback secret', async () => {
    const url = 'https://ops.example.com/lost';
    h = harness([rule('lost-hook', { runner: { webhook: url } })], {
      webhook: () => Promise.reject(new CallbackSecretMissingError()),
    });
    await loseHost(h, T0);
    const [rec] = await records(h);
    expect(rec).toMatchObject({ status: 'failed', stdoutTail: '' });
    expect(rec?.stderrTail).toContain(`webhook runner ${url}`);
    expect(rec?.stderrTail).toContain('--callback-secret-env');
    expect(h.outcomes.map((r) => r.status)).toEqual(['failed']);
  });

  it('runs nothing for a dry run and records what it would run, where', async () => {
    h = harness([rule('lost-dry', { dryRun: true })]);
    await loseHost(h, T0);
    expect(h.tasks).toEqual([]);
    expect(h.webhooks).toEqual([]);
    const [rec] = await records(h);
    expect(rec).toMatchObject({
      status: 'skipped',
      remediation: { decision: 'dryRun', detail: 'dry run: would run on ops-1: echo "lost $GSE_LOST_HOST"' },
    });
    expect(rec?.stdoutTail).toContain('would run on ops-1');
    expect(h.outcomes.map((r) => r.remediation?.decision)).toEqual(['dryRun']);
  });

  it('skips a second loss inside the cooldown, recorded with the reason, and runs once it has passed', async () => {
    h = harness([rule('lost-web', { cooldownMs: 60_000 })]);
    await loseHost(h, T0);
    await hostBack(h, T0 + 10_000);
    await loseHost(h, T0 + 20_000);
    expect(h.tasks).toHaveLength(1);
    const skipped = (await records(h)).filter((r) => r.status === 'skipped');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]?.remediation).toMatchObject({ decision: 'cooldown' });
    expect(skipped[0]?.remediation?.detail).toContain('cooldown 60000 ms');
    expect(h.outcomes.map((r) => r.remediation?.decision)).toEqual(['cooldown']);
    expect(h.routed.map((e) => e.type)).toEqual(['agent.lost', 'agent.start', 'agent.lost']);

    await hostBack(h, T0 + 70_000);
    await loseHost(h, T0 + 80_000);
    expect(h.tasks).toHaveLength(2);
  });

  it('keeps the cooldown in the store: a new LostRemediation (a restarted controller) still skips', async () => {
    h = harness([rule('lost-web', { cooldownMs: 60_000 })]);
    await loseHost(h, T0);
    await hostBack(h, T0 + 10_000);
    const decided: ExecutionRecord[] = [];
    // Same store, new instance: what a controller restart on the same state keeps.
    const restarted = new LostRemediation({
      store: h.store,
      exec: { runRemediation: async () => true },
      hosts: () => [h.web1],
      revision: () => makeRevision([rule('lost-web', { cooldownMs: 60_000 })], {}, 'rev-7'),
      runnerOf: () => 'ops-1',
      routeEvent: async () => undefined,
      outcomes: {
        remediation: async (rec) => {
          decided.push(rec);
        },
        webhook: async () => 'x',
      },
      logger: silentLogger,
      now: () => h.clock.now,
      startedAt: T0,
    });
    h.web1.overdue = true;
    h.web1.lastSeenMs = T0 + 20_000;
    h.clock.now = T0 + 20_000 + GRACE_MS;
    await restarted.sweep();
    expect(decided.map((r) => r.remediation?.decision)).toEqual(['cooldown']);
  });

  it('runs nothing for a lost host no rule selects (the event is raised all the same)', async () => {
    h = harness([rule('lost-db', { hosts: { names: ['db-*'] } })]);
    h.web1.overdue = true;
    h.web1.lastSeenMs = T0;
    h.clock.now = T0 + 60_000;
    await h.lost.sweep();
    expect(h.routed.map((e) => e.type)).toEqual(['agent.lost']);
    expect(h.tasks).toEqual([]);
    expect(await records(h)).toEqual([]);
  });
});
