/** The controller's Prometheus metrics (prom-client), in one registry served at /metrics. */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type MetricsSnapshot = () => {
  hostsBySyncState: Record<string, number>;
  agentConnections: number;
};

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
  readonly gitFetchSeconds = new Histogram({
    name: 'gse_git_fetch_duration_seconds',
    help: 'Time of git fetches',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly gitFetchErrors = new Counter({
    name: 'gse_git_fetch_errors_total',
    help: 'Git fetches that failed',
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
    new Gauge({
      name: 'gse_hosts',
      help: 'Hosts by sync state',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [state, n] of Object.entries(snapshot().hostsBySyncState)) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'gse_agent_connections',
      help: 'Agents connected now',
      registers: [this.registry],
      collect() {
        this.set(snapshot().agentConnections);
      },
    });
  }

  /** The text exposition format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
