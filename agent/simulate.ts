/**
 * `gse-agent simulate`: N real agents in one process, each with its own id, root, state dir, spool and
 * session, running the same Agent code; they share one file watcher and one /proc scanner.
 */
import { join } from 'node:path';
import { Agent } from './agent.js';
import type { Logger } from './engine/index.js';
import { AGENT_VERSION } from './facts.js';
import { createShared, defaultStateDir, realDeps } from './runtime.js';
import { simulatedUpgrader } from './upgrade/upgrader.js';

export interface SimulateOptions {
  count: number;
  /**
   * Number of the first instance (default 1) and the step between instances (default 1): instances are
   * sim-<first>, sim-<first+step>, ... (`count` of them), so several simulate processes can hold one fleet
   * of distinct names (and ids, roots and IPs), interleaved so any run of names spans every process.
   */
  first?: number;
  step?: number;
  controllerUrl: string;
  /** Every controller URL, tried in turn (default [controllerUrl]). */
  controllerUrls?: readonly string[];
  /** PEM of the CA pinned for a wss:// controller (`--ca`). */
  ca?: string | Buffer;
  bootstrapToken?: string;
  /** Instance i has root `root/sim-<i>/` and the agent's default state dir under it, `root/sim-<i>/var/lib/gse-agent/`. */
  root: string;
  labels: Record<string, string>;
  cloudId?: number;
  /** Instances created at once (each opens a few files). */
  batchSize?: number;
  /** How long a simulated upgrade (download + restart) takes; default SIMULATED_UPGRADE_DELAY_MS. */
  upgradeDelayMs?: number;
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

/**
 * Creates and starts `count` agents named sim-<first>, sim-<first+step>, ... (default sim-1..sim-N). An AgentVersion asking another version "upgrades" an
 * instance: after the simulated delay it is stopped and replaced by one with the same state dir that says it
 * runs the new version (no files are downloaded).
 */
export async function simulate(options: SimulateOptions, logger: Logger): Promise<SimulatedFleet> {
  const shared = createShared(logger);
  const deps = realDeps(logger, shared, (reason) => logger.error('simulated agent refused', { reason }));
  const agents: Agent[] = [];
  const first = options.first ?? 1;
  const step = options.step ?? 1;
  const batch = options.batchSize ?? DEFAULT_BATCH;
  let stopping = false;
  const create = (i: number, version: string, restarted: boolean): Promise<Agent> => {
    const name = `sim-${i}`;
    const root = join(options.root, name);
    return Agent.create(
      {
        controllerUrl: options.controllerUrl,
        ...(options.controllerUrls ? { controllerUrls: options.controllerUrls } : {}),
        ca: options.ca,
        bootstrapToken: options.bootstrapToken,
        stateDir: defaultStateDir(root),
        root,
        facts: {
          name,
          ips: [simulatedIp(i)],
          cloudId: options.cloudId ?? 0,
          os: `${process.platform} (simulated)`,
          agentVersion: version,
          labels: options.labels,
        },
      },
      {
        ...deps,
        upgrader: simulatedUpgrader({
          ...(options.upgradeDelayMs !== undefined ? { delayMs: options.upgradeDelayMs } : {}),
          restarted,
          restart: async (to) => {
            if (stopping) return;
            const slot = (i - first) / step;
            await agents[slot]?.stop();
            const next = await create(i, to, true);
            agents[slot] = next;
            await next.start();
            // One line per upgrade: the fault suite counts them (no instance may upgrade twice).
            logger.info('simulated upgrade restarted', { name, to });
          },
        }),
      },
    );
  };
  for (let start = 0; start < options.count; start += batch) {
    const created = await Promise.all(
      Array.from({ length: Math.min(batch, options.count - start) }, (_, k) =>
        create(first + (start + k) * step, AGENT_VERSION, false),
      ),
    );
    for (const a of created) await a.start();
    agents.push(...created);
  }
  logger.info('simulated fleet started', { count: agents.length, root: options.root });
  return {
    agents,
    async stop() {
      stopping = true;
      await Promise.all(agents.map((a) => a.stop()));
      await shared.files.close();
    },
  };
}
