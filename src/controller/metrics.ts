/** The controller's Prometheus metrics (prom-client), in one registry served at /metrics. */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface MetricsView {
  hostsBySyncState: Record<string, number>;
  agentConnections: number;
  /** Git source counters (fetch attempts, failures, last fetch duration). */
  git: { fetches: number; fetchErrors: number; lastFetchMs: number | null };
  /** Router counters by route and by target. */
  routes: Record<string, { in: number; out: number; filtered: number }>;
  targets: Record<
    string,
    { out: number; spooled: number; retried: number; failed: number; spoolDepth: number }
  >;
  /** Notification deliveries: queued on disk now, delivered, failed attempts, refused by a full queue. */
  notify?: { queued: number; delivered: number; failedAttempts: number; dropped: number };
  /** In a cluster: host states this replica did not write because another replica held the host. */
  cluster?: { hostWritesRefused: number };
}

export type MetricsSnapshot = () => MetricsView;

/** A gauge whose samples are read from the live state at scrape time. */
function liveGauge<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  samples: () => Array<[Partial<Record<L, string>>, number]>,
): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of samples()) this.set(labels, value);
    },
  });
}

/**
 * A counter whose samples are read from a live source's running totals at scrape time (typed `counter`,
 * so rate() works; the totals only grow while the process lives).
 */
function liveCounter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  samples: () => Array<[Partial<Record<L, string>>, number]>,
): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of samples()) this.inc(labels, value);
    },
  });
}

/** A live metric's type from its name: Prometheus' `_total` suffix means a counter. */
const liveMetric = (name: string) => (name.endsWith('_total') ? liveCounter : liveGauge);

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly reconcileSeconds = new Histogram({
    name: 'gse_reconcile_duration_seconds',
    help: 'Time to plan and dispatch one reconcile pass',
    labelNames: ['trigger'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly driftEvents = new Counter({
    name: 'gse_drift_events_total',
    help: 'Drift records, by kind (corrective, intentional) and whether they were healed',
    labelNames: ['kind', 'healed'] as const,
    registers: [this.registry],
  });
  readonly executions = new Counter({
    name: 'gse_executions_total',
    help: 'Executions finished on hosts, by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly execSeconds = new Histogram({
    name: 'gse_exec_duration_seconds',
    help: 'How long executions ran on hosts (exec, onChange, remediation), by reason kind and result',
    labelNames: ['reason', 'result'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly convergeSeconds = new Histogram({
    name: 'gse_converge_duration_seconds',
    help: 'From sending a host its manifest to the report that it holds it (Synced or not)',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly hostWrites = new Counter({
    name: 'gse_store_host_writes_total',
    help: 'Host states (a host record and its resource statuses) written to the store',
    registers: [this.registry],
  });
  readonly hostWriteBatches = new Counter({
    name: 'gse_store_host_write_batches_total',
    help: 'Store writes of host-state batches (each holds the hosts marked since the last one)',
    registers: [this.registry],
  });
  readonly revisions = new Counter({
    name: 'gse_revisions_total',
    help: 'Revisions seen from Git, by outcome',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  /** Gauges read at scrape time from the live state, so they are never stale. */
  constructor(snapshot: MetricsSnapshot) {
    const r = this.registry;
    liveGauge(r, 'gse_hosts', 'Hosts by sync state', ['state'], () =>
      Object.entries(snapshot().hostsBySyncState).map(([state, n]) => [{ state }, n]),
    );
    liveGauge(r, 'gse_agent_connections', 'Agents connected now', [], () => [
      [{}, snapshot().agentConnections],
    ]);
    liveCounter(r, 'gse_git_fetches_total', 'Git fetch attempts since start', [], () => [
      [{}, snapshot().git.fetches],
    ]);
    liveCounter(r, 'gse_git_fetch_errors_total', 'Git fetches that failed since start', [], () => [
      [{}, snapshot().git.fetchErrors],
    ]);
    liveGauge(r, 'gse_git_last_fetch_seconds', 'Duration of the last git fetch', [], () => {
      const ms = snapshot().git.lastFetchMs;
      return ms === null ? [] : [[{}, ms / 1000]];
    });
    for (const counter of ['in', 'out', 'filtered'] as const) {
      liveCounter(r, `gse_route_records_${counter}_total`, `Records ${counter} per route`, ['route'], () =>
        Object.entries(snapshot().routes).map(([route, c]) => [{ route }, c[counter]]),
      );
    }
    const notify = [
      ['gse_notify_queue_depth', 'Notification deliveries queued on disk (not yet answered 2xx)', 'queued'],
      ['gse_notify_delivered_total', 'Notification deliveries answered 2xx since start', 'delivered'],
      [
        'gse_notify_failed_attempts_total',
        'Notification POSTs that failed (retried) since start',
        'failedAttempts',
      ],
      ['gse_notify_dropped_total', 'Notification deliveries refused because the queue was full', 'dropped'],
    ] as const;
    for (const [name, help, key] of notify) {
      liveMetric(name)(r, name, help, [], () => {
        const n = snapshot().notify;
        return n ? [[{}, n[key]]] : [];
      });
    }
    liveCounter(
      r,
      'gse_cluster_host_writes_refused_total',
      'Host states this replica did not write because another replica held the host (its agent moved on)',
      [],
      () => {
        const c = snapshot().cluster;
        return c ? [[{}, c.hostWritesRefused]] : [];
      },
    );
    for (const counter of ['out', 'spooled', 'retried', 'failed', 'spoolDepth'] as const) {
      const name =
        counter === 'spoolDepth' ? 'gse_target_spool_depth' : `gse_target_records_${counter}_total`;
      liveMetric(name)(r, name, `Target ${counter} (records)`, ['target'], () =>
        Object.entries(snapshot().targets).map(([target, c]) => [{ target }, c[counter]]),
      );
    }
  }

  /** The text exposition format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
