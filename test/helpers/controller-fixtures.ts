/** Builders the controller's in-memory tests share: metrics with nothing to report, a quiet logger, AgentVersions. */
import { ControllerMetrics, type MetricsView } from '../../src/controller/metrics.js';
import type { HostFacts } from '../../src/protocol/manifest.js';
import type { AgentVersion, AgentVersionSpec } from '../../src/spec/types.js';

/** Controller metrics whose gauges read an empty fleet (the tests look at other things), plus `extra`. */
export function idleMetrics(extra: Partial<MetricsView> = {}): ControllerMetrics {
  return new ControllerMetrics(() => ({
    hostsBySyncState: {},
    agentConnections: 0,
    git: { fetches: 0, fetchErrors: 0, lastFetchMs: null },
    routes: {},
    targets: {},
    ...extra,
  }));
}

/** A logger that drops everything. */
export const quietLogger = { info: () => {}, warn: () => {} };

/**
 * An AgentVersion `agents` for every host: batches of 2, none unavailable at once, no failure allowed, no
 * pause, auto mode, unless `rollout` says otherwise. The artifact's sha256 is made from the version's digits.
 */
export function agentVersion(
  version: string,
  rollout: Partial<AgentVersionSpec['rollout']> = {},
  sha256 = version.replace(/\D/g, '').padEnd(64, '0'),
): AgentVersion {
  return {
    apiVersion: 'gse/v1',
    kind: 'AgentVersion',
    metadata: { name: 'agents' },
    pos: { file: 'a.yaml', line: 1, col: 1 },
    spec: {
      version,
      artifact: { sha256 },
      hosts: { names: ['*'] },
      rollout: {
        batchSize: 2,
        maxUnavailable: 0,
        maxFailures: 0,
        pauseBetweenMs: 0,
        healthDeadlineMs: 30_000,
        mode: 'auto',
        ...rollout,
      },
    },
  };
}

/** Facts of host `id` running agent `agentVersion`. */
export function versionFacts(id: string, agentVersion: string): HostFacts {
  return { id, name: id, ips: ['10.0.0.1'], cloudId: 0, labels: {}, agentVersion };
}
