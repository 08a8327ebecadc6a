/**
 * agent.lost / agent.start on the controller. Each sweep (the heartbeat sweep) decides with
 * `sweepLostHosts` which hosts are newly lost or back, raises their events (routed like host events), and
 * decides each agent.lost Remediation that fires: cooldown and maxPerHour from a budget kept in the store,
 * maxConcurrent across the fleet (the rule's running records in the store). A decision to run sends the
 * script to the rule's runner host through the ExecService; every decision is an execution record with its
 * chain, and is handed to the `Outcomes` sink (callbacks plug in there).
 */
import { type BudgetState, decideBudget, EMPTY_BUDGET } from '../kernel/index.js';
import type { HostEvent } from '../protocol/messages.js';
import type { Remediation, Revision } from '../spec/types.js';
import type { ExecutionRecord, JsonValue, Store } from '../store/types.js';
import type { RemediationTask } from './exec-service.js';
import { hashValue } from './hash.js';
import type { Logger } from './logger.js';
import { type LostHostView, type RaisedLost, sweepLostHosts } from './lost-hosts.js';
import { selectorMatches } from './select.js';

/** The grace of a host no agent.lost rule selects, and of a rule without `on.grace`. */
export const DEFAULT_LOST_GRACE_MS = 60_000;
/** Store state keys: the raised set, and one budget per rule. */
export const LOST_STATE_KEY = 'remediation/lost';
const budgetKey = (ruleKey: string) => `remediation/budget/${ruleKey}`;
/** A running record older than the rule's timeout plus this no longer holds a concurrency slot. */
const RUNNING_SLACK_MS = 60_000;

/**
 * Where remediation outcomes go besides the store: every decision not run on a runner host (a run's
 * outcome comes with its result), and the signed POST of a webhook runner. Default: nowhere, and a webhook
 * runner fails saying so.
 */
export interface Outcomes {
  remediation(record: ExecutionRecord): Promise<void>;
  /** Queues a signed POST of `body` to `url` durably; resolves to its delivery id. */
  webhook(url: string, body: Record<string, JsonValue>): Promise<string>;
}
export const NO_OUTCOMES: Outcomes = {
  remediation: () => Promise.resolve(),
  webhook: () => Promise.reject(new Error('no webhook delivery is configured')),
};

/** A host as the sweep needs it. */
export interface SweptHost extends LostHostView {
  name: string;
  ips: string[];
  cloudId: number;
  labels: Record<string, string>;
}

export interface LostRemediationDeps {
  store: Store;
  exec: { runRemediation(hostId: string, task: RemediationTask): Promise<boolean> };
  hosts(): SweptHost[];
  revision(): Revision | undefined;
  /** The connected host id a runner name (`runner.host`: name or id) designates, if any. */
  runnerOf(name: string): string | undefined | Promise<string | undefined>;
  /** Routes a controller-raised event like a host's own (events channel). */
  routeEvent(host: SweptHost, event: HostEvent): Promise<void>;
  outcomes: Outcomes;
  logger: Logger;
  now(): number;
  startedAt: number;
}

const isRaised = (v: JsonValue): v is RaisedLost & JsonValue =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isBudget = (v: JsonValue): v is BudgetState & JsonValue =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && typeof v.lastStartAt === 'number';

export class LostRemediation {
  constructor(private readonly deps: LostRemediationDeps) {}

  /** One sweep: raise what changed, decide what fires, persist the raised set. */
  async sweep(): Promise<void> {
    const { deps } = this;
    const now = deps.now();
    const hosts = deps.hosts();
    const byId = new Map(hosts.map((h) => [h.hostId, h]));
    const revision = deps.revision();
    const rules = (revision?.byKind.Remediation ?? []).filter((r) => r.spec.on.event === 'agent.lost');
    const ruleByKey = new Map(rules.map((r) => [`Remediation/${r.metadata.name}`, r]));
    const raised = (await deps.store.getState(LOST_STATE_KEY, isRaised)) ?? {};
    const plan = sweepLostHosts({
      hosts,
      rules: rules.map((r) => ({
        key: `Remediation/${r.metadata.name}`,
        graceMs: r.spec.graceMs ?? DEFAULT_LOST_GRACE_MS,
        selects: (id) => {
          const h = byId.get(id);
          return h !== undefined && selectorMatches(r.spec.hosts, h);
        },
      })),
      now,
      startedAt: deps.startedAt,
      defaultGraceMs: DEFAULT_LOST_GRACE_MS,
      raised,
    });
    // Persisted first: a crash after this sweep raises nothing twice (a rule that did not get decided is lost
    // with it, which is the at-most-once side a remediation should err on).
    await deps.store.setState(LOST_STATE_KEY, plan.raised as JsonValue);
    const lostEvents = new Map<string, HostEvent>();
    for (const id of plan.lost) {
      const host = byId.get(id);
      if (!host) continue;
      const event = lostEvent(host, now);
      lostEvents.set(id, event);
      deps.logger.warn('agent lost', { hostId: id, lastSeen: event.fields.lastSeen });
      await this.route(host, event);
    }
    for (const id of plan.returned) {
      const host = byId.get(id);
      if (!host) continue;
      deps.logger.info('agent back', { hostId: id });
      await this.route(host, {
        type: 'agent.start',
        time: new Date(now).toISOString(),
        fields: { host: id, agentVersion: '' },
      });
    }
    for (const { hostId, ruleKey } of plan.fire) {
      const host = byId.get(hostId);
      const rule = ruleByKey.get(ruleKey);
      if (!host || !rule || !revision) continue;
      await this.decide(rule, revision, host, lostEvents.get(hostId) ?? lostEvent(host, now), now);
    }
  }

  private async route(host: SweptHost, event: HostEvent): Promise<void> {
    await this.deps.routeEvent(host, event).catch((err: unknown) => {
      this.deps.logger.warn('event not routed', {
        type: event.type,
        hostId: host.hostId,
        error: String(err),
      });
    });
  }

  /** Decides one rule for one lost host, records the decision and runs it when it may. */
  private async decide(
    rule: Remediation,
    revision: Revision,
    host: SweptHost,
    event: HostEvent,
    now: number,
  ): Promise<void> {
    const { deps } = this;
    const key = `Remediation/${rule.metadata.name}`;
    const reason = `remediation:${key}`;
    const taskId = `${reason}@${host.hostId}@${event.fields.lastSeen as string}`;
    const budget = (await deps.store.getState(budgetKey(key), isBudget)) ?? EMPTY_BUDGET;
    const running = await this.runningFleetWide(key, rule.spec.run.timeoutMs ?? 0, now);
    const verdict = decideBudget(rule.spec, budget, running, now);
    const runner = rule.spec.runner?.host;
    const runnerId = runner === undefined ? undefined : await deps.runnerOf(runner);
    const chain = (decision: NonNullable<ExecutionRecord['remediation']>['decision'], detail?: string) => ({
      name: rule.metadata.name,
      itemHash: hashValue(rule.spec),
      revision: revision.id,
      decision,
      event,
      ...(detail ? { detail } : {}),
    });
    if (verdict.decision === 'ran' && runnerId !== undefined) {
      await deps.store.setState(budgetKey(key), verdict.next as unknown as JsonValue);
      const task: RemediationTask = {
        taskId,
        reason,
        script: rule.spec.run.script,
        ...(rule.spec.run.interpreter ? { interpreter: rule.spec.run.interpreter } : {}),
        ...(rule.spec.run.runAs ? { runAs: rule.spec.run.runAs } : {}),
        timeoutMs: rule.spec.run.timeoutMs ?? 60_000,
        env: {
          ...(rule.spec.run.env ?? {}),
          GSE_EVENT: 'agent.lost',
          GSE_EVENT_RESOURCE: '',
          GSE_LOST_HOST: host.name,
          GSE_LOST_HOST_ID: host.hostId,
          GSE_LOST_HOST_IP: host.ips[0] ?? '',
        },
        remediation: chain('ran'),
      };
      await deps.exec.runRemediation(runnerId, task);
      return;
    }
    const webhook = rule.spec.runner?.webhook;
    if (verdict.decision === 'ran' && webhook !== undefined) {
      await deps.store.setState(budgetKey(key), verdict.next as unknown as JsonValue);
      await this.callWebhook(webhook, taskId, reason, key, host, event, chain('ran'), now);
      return;
    }
    // Not run: a skip, a dry run or an offline runner host.
    const where = runnerId ?? runner ?? rule.spec.runner?.webhook ?? 'none';
    let record: ExecutionRecord;
    const base = {
      id: taskId,
      hostId: runnerId ?? runner ?? host.hostId,
      reason,
      resource: key,
      command: rule.spec.run.script,
      exitCode: null,
      signal: null,
      startedAt: new Date(now).toISOString(),
      finishedAt: new Date(now).toISOString(),
      durationMs: 0,
      timedOut: false,
      killed: false,
    };
    if (verdict.decision === 'ran' || verdict.decision === 'dryRun') {
      await deps.store.setState(budgetKey(key), verdict.next as unknown as JsonValue);
      const detail =
        verdict.decision === 'dryRun'
          ? `dry run: would run on ${where}: ${rule.spec.run.script}`
          : `runner host ${runner} is not connected (not run)`;
      record = {
        ...base,
        status: verdict.decision === 'ran' ? 'failed' : 'skipped',
        stdoutTail: verdict.decision === 'dryRun' ? `${detail}\n` : '',
        stderrTail: verdict.decision === 'ran' ? detail : '',
        remediation: chain(verdict.decision, detail),
      };
    } else {
      record = {
        ...base,
        status: 'skipped',
        stdoutTail: '',
        stderrTail: '',
        remediation: chain(verdict.decision, verdict.detail),
      };
    }
    await deps.store.putExecution(record);
    await deps.outcomes.remediation(record);
  }

  /**
   * A webhook runner: the event goes out as a signed POST from the controller's durable queue (at least
   * once, retried while the receiver is down); the record says succeeded once it is queued, failed with
   * the reason when it cannot be (no callback secret).
   */
  private async callWebhook(
    url: string,
    taskId: string,
    reason: string,
    key: string,
    host: SweptHost,
    event: HostEvent,
    chain: NonNullable<ExecutionRecord['remediation']>,
    now: number,
  ): Promise<void> {
    const body: Record<string, JsonValue> = {
      type: 'remediation.webhook',
      remediation: chain.name,
      revision: chain.revision,
      taskId,
      host: { id: host.hostId, name: host.name, ips: host.ips, cloudId: host.cloudId },
      event: { type: event.type, time: event.time, fields: event.fields as Record<string, JsonValue> },
    };
    let status: ExecutionRecord['status'] = 'succeeded';
    let out = '';
    let err = '';
    try {
      const id = await this.deps.outcomes.webhook(url, body);
      out = `signed POST to ${url} queued (delivery ${id}); delivered at least once from the controller's queue\n`;
    } catch (e) {
      status = 'failed';
      err = `webhook runner ${url}: ${e instanceof Error ? e.message : String(e)}`;
    }
    const at = new Date(now).toISOString();
    const record: ExecutionRecord = {
      id: taskId,
      hostId: host.hostId,
      reason,
      resource: key,
      command: `POST ${url}`,
      status,
      exitCode: null,
      signal: null,
      stdoutTail: out,
      stderrTail: err,
      startedAt: at,
      finishedAt: at,
      durationMs: 0,
      timedOut: false,
      killed: false,
      remediation: chain,
    };
    await this.deps.store.putExecution(record);
    await this.deps.outcomes.remediation(record);
  }

  /** The rule's runs in progress across the fleet (running records not older than its timeout). */
  private async runningFleetWide(key: string, timeoutMs: number, now: number): Promise<number> {
    const since = new Date(now - timeoutMs - RUNNING_SLACK_MS).toISOString();
    const page = await this.deps.store.listExecutions({
      resource: key,
      status: 'running',
      since,
      limit: 1000,
    });
    return page.items.length;
  }
}

function lostEvent(host: SweptHost, now: number): HostEvent {
  return {
    type: 'agent.lost',
    time: new Date(now).toISOString(),
    fields: {
      host: host.hostId,
      name: host.name,
      ip: host.ips[0] ?? '',
      cloud: host.cloudId,
      lastSeen: new Date(host.lastSeenMs).toISOString(),
    },
  };
}
