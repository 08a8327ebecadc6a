/** Starting and watching simulated fleets (`gse-agent simulate` in child processes) for the benches. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AGENT_MAIN,
  BENCH_BOOTSTRAP_TOKEN,
  type ManagedChild,
  openFileLimit,
  progress,
  spawnNode,
} from './util.js';

/** Open files a simulated agent holds: ws socket, ingest socket, two spools (segment + ack log each), task ledger, one transient. */
export const FDS_PER_AGENT = 8;
/** Left for node itself, pipes, the shared watcher and transient files. */
const FD_RESERVE = 500;

export interface SimFleet {
  children: ManagedChild[];
  /** Agents per child process. */
  counts: number[];
  /** True when a child exited before being stopped. */
  died(): boolean;
  /** CPU seconds used by all children so far. */
  cpuSeconds(): number;
  rssMiB(): number;
  stop(): Promise<void>;
}

/** How many simulated agents one process can hold under `hardLimit` open files. */
export function maxAgentsPerProcess(hardLimit: number): number {
  return Math.max(1, Math.floor((hardLimit - FD_RESERVE) / FDS_PER_AGENT));
}

/**
 * Runs `count` agents with `node dist/agent/main.js simulate --count N --controller URL --token T --root DIR`
 * (each child under `ulimit -n` = the hard limit). When one process cannot hold them all (~5 fds per agent),
 * they are split over several simulate processes, shard k with its own root `root/shard-k`; since every
 * `simulate` names its instances sim-1..sim-n, each instance's state dir is seeded beforehand with an
 * `identity.json` holding its fleet-wide id `sim-<offset+i>` (the agent uses the id in its state dir, and
 * enrolls with the bootstrap token under it). Instance names (facts) stay sim-1..sim-n per shard.
 */
export async function startSimulator(opts: {
  count: number;
  agentUrl: string;
  root: string;
  /** Cap per process (default: what the open-file limit allows). */
  perProcess?: number;
  /** `--upgrade-delay-ms`: how long a simulated agent upgrade takes (default the agent's). */
  delayMs?: number;
}): Promise<SimFleet> {
  const { hard } = openFileLimit();
  const perProcess = Math.min(opts.perProcess ?? Number.MAX_SAFE_INTEGER, maxAgentsPerProcess(hard));
  const shards = Math.ceil(opts.count / perProcess);
  const counts = Array.from(
    { length: shards },
    (_, k) => Math.floor(opts.count / shards) + (k < opts.count % shards ? 1 : 0),
  );
  const roots: string[] = [];
  let offset = 0;
  for (const [k, n] of counts.entries()) {
    const root = shards === 1 ? opts.root : join(opts.root, `shard-${k + 1}`);
    roots.push(root);
    if (shards > 1) await seedIdentities(root, n, offset);
    offset += n;
  }
  if (shards > 1) progress('simulator split over processes (open-file limit)', { hard, counts });
  const children = counts.map((n, k) =>
    spawnNode(
      [
        AGENT_MAIN,
        'simulate',
        '--count',
        String(n),
        '--controller',
        opts.agentUrl,
        // Benches measure the fleet, not TLS: the bench controller is plain HTTP, so say so explicitly.
        '--insecure',
        '--token',
        BENCH_BOOTSTRAP_TOKEN,
        '--root',
        roots[k] as string,
        ...(opts.delayMs !== undefined ? ['--upgrade-delay-ms', String(opts.delayMs)] : []),
        '--log-level',
        'warn',
      ],
      { nofile: hard },
    ),
  );
  let stopping = false;
  let died = false;
  for (const child of children) {
    const exited = (): void => {
      if (!stopping) died = true;
    };
    child.exited.then(exited, exited);
  }
  return {
    children,
    counts,
    died: () => died,
    cpuSeconds: () => children.reduce((s, c) => s + c.cpuSeconds(), 0),
    rssMiB: () => children.reduce((s, c) => s + c.rssMiB(), 0),
    async stop() {
      stopping = true;
      await Promise.all(children.map((c) => c.stop(30_000)));
    },
  };
}

/** Writes `root/sim-<i>/var/lib/gse-agent/identity.json` = {agentId: sim-<offset+i>} for i in 1..n. */
async function seedIdentities(root: string, n: number, offset: number): Promise<void> {
  const BATCH = 500;
  for (let start = 1; start <= n; start += BATCH) {
    await Promise.all(
      Array.from({ length: Math.min(BATCH, n - start + 1) }, async (_, j) => {
        const i = start + j;
        const stateDir = join(root, `sim-${i}`, 'var/lib/gse-agent');
        await mkdir(stateDir, { recursive: true, mode: 0o700 });
        await writeFile(join(stateDir, 'identity.json'), JSON.stringify({ agentId: `sim-${offset + i}` }), {
          mode: 0o600,
        });
      }),
    );
  }
}
