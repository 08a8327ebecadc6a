/** Spec and rollout shapes shared by the agent upgrade e2e files. */
import { type RunningController, waitFor } from '../helpers/controller.js';

/** One AgentVersion document for every host (JSON is valid YAML). */
export function agentVersionYaml(opts: {
  version: string;
  /** Absent: agents fetch the package from the controller's --artifact-dir. */
  url?: string;
  sha256: string;
  batchSize?: number;
  healthDeadline?: string;
  /** Absent: the default (1); a reached host restarting into its new version holds the next batch anyway. */
  maxUnavailable?: number;
}): string {
  const spec = {
    version: opts.version,
    artifact: { ...(opts.url ? { url: opts.url } : {}), sha256: opts.sha256 },
    hosts: { names: ['*'] },
    rollout: {
      batchSize: opts.batchSize ?? 2,
      maxFailures: 0,
      ...(opts.maxUnavailable !== undefined ? { maxUnavailable: opts.maxUnavailable } : {}),
      ...(opts.healthDeadline ? { healthDeadline: opts.healthDeadline } : {}),
    },
  };
  return [
    'apiVersion: gse/v1',
    'kind: AgentVersion',
    'metadata: {"name": "agents"}',
    `spec: ${JSON.stringify(spec)}`,
    '',
  ].join('\n');
}

export interface RolloutView {
  rollout: {
    id: string;
    version: string;
    phase: string;
    undo: boolean;
    pauseReason?: string;
    failures: Array<{ hostId: string; message: string }>;
  };
  batch: number;
  batches: number;
  hosts: Array<{ hostId: string; batch: number; state: string; runningVersion?: string; message?: string }>;
}

/** Waits until GET /api/v1/rollouts/NAME satisfies `ok`. */
export function waitRollout(
  ctl: RunningController,
  name: string,
  ok: (v: RolloutView) => boolean,
  timeoutMs = 60_000,
): Promise<RolloutView> {
  let last: RolloutView | undefined;
  return waitFor(
    `rollout ${name}`,
    async () => {
      const { status, body } = await ctl.api<RolloutView>(`/api/v1/rollouts/${name}`);
      if (status !== 200) return undefined;
      last = body;
      return ok(body) ? body : undefined;
    },
    timeoutMs,
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(last)}`);
  });
}
