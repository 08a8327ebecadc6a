/**
 * `gse-agent simulate`: N real agents in one process, each with its own id, root, state dir, spool and
 * session, running the same Agent code; they share one file watcher and one /proc scanner.
 */
import { join } from 'node:path';
import { Agent } from './agent.js';
import type { Logger } from './engine/index.js';
import { AGENT_VERSION } from './facts.js';
import { createShared, defaultStateDir, realDeps } from './runtime.js';

export interface SimulateOptions {
  count: number;
  controllerUrl: string;
  /** PEM of the CA pinned for a wss:// controller (`--ca`). */
  ca?: string | Buffer;
  bootstrapToken?: string;
  /** Instance i has root `root/sim-<i>/` and the agent's default state dir under it, `root/sim-<i>/var/lib/gse-agent/`. */
  root: string;
  labels: Record<string, string>;
  cloudId?: number;
  /** Instances created at once (each opens a few files). */
  batchSize?: number;
}

export interface SimulatedFleet {
  agents: Agent[];
  stop(): Promise<void>;
}

const DEFAULT_BATCH = 200;

/** A distinct loopback address per instance, so GSE-style `cloud:ip` keys stay unique. */
export function simulatedIp(i: number): string {
  return `127.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
}

/** Creates and starts `count` agents named sim-1..sim-N. */
export async function simulate(options: SimulateOptions, logger: Logger): Promise<SimulatedFleet> {
  const shared = createShared(logger);
  const deps = realDeps(logger, shared, (reason) => logger.error('simulated agent refused', { reason }));
  const agents: Agent[] = [];
  const batch = options.batchSize ?? DEFAULT_BATCH;
  for (let start = 1; start <= options.count; start += batch) {
    const created = await Promise.all(
      Array.from({ length: Math.min(batch, options.count - start + 1) }, (_, k) => {
        const i = start + k;
        const name = `sim-${i}`;
        const root = join(options.root, name);
        return Agent.create(
          {
            controllerUrl: options.controllerUrl,
            ca: options.ca,
            bootstrapToken: options.bootstrapToken,
            stateDir: defaultStateDir(root),
            root,
            facts: {
              name,
              ips: [simulatedIp(i)],
              cloudId: options.cloudId ?? 0,
              os: `${process.platform} (simulated)`,
              agentVersion: AGENT_VERSION,
              labels: options.labels,
            },
          },
          deps,
        );
      }),
    );
    for (const a of created) await a.start();
    agents.push(...created);
  }
  logger.info('simulated fleet started', { count: agents.length, root: options.root });
  return {
    agents,
    async stop() {
      await Promise.all(agents.map((a) => a.stop()));
      await shared.files.close();
    },
  };
}
