/** Starting and watching simulated fleets (`gse-agent simulate` in child processes) for the benches. */
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
 * Runs `count` agents with `node dist/agent/main.js simulate --count N --first F --controller URL --token T
 * --root DIR` (each child under `ulimit -n` = the hard limit). When one process cannot hold them all (~5 fds
 * per agent), or `perProcess` says fewer, they are split over several simulate processes sharing one root,
 * interleaved: of S processes, process k runs sim-<k+1>, sim-<k+1+S>, ... So names, ids, roots and IPs stay
 * fleet-wide unique, and a selector such as `name=sim-1??` picks the same hosts however the fleet is split,
 * spread over every process (as 100 hosts are 100 machines, not one).
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
  if (shards > 1) progress('simulator split over processes', { hard, counts });
  const children = counts.map((n, k) =>
    spawnNode(
      [
        AGENT_MAIN,
        'simulate',
        '--count',
        String(n),
        '--first',
        String(k + 1),
        '--step',
        String(shards),
        '--controller',
        opts.agentUrl,
        // Benches measure the fleet, not TLS: the bench controller is plain HTTP, so say so explicitly.
        '--insecure',
        '--token',
        BENCH_BOOTSTRAP_TOKEN,
        '--root',
        opts.root,
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
