/**
 * Simulated fleets for the fault tests: `gse-agent simulate` child processes (N agents each) given one or
 * several controller URLs (comma-separated, so they fail over between replicas), a bootstrap token and, for
 * wss://, the CA the replicas' certificates chain to. Every child keeps a tail of its stderr for failure
 * messages and is killed when the test process exits. Needs `npm run build` (dist/).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_MAIN } from './agent-process.js';
import { TEST_BOOTSTRAP_TOKEN } from './controller.js';
import { testCa } from './tls.js';

/** How much of a child's stderr is kept for failure messages (default). */
const DEFAULT_TAIL_CHARS = 4_000;
/** Identity files written at once while seeding a shard. */
const SEED_BATCH = 500;

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** A child process with its stderr tail kept for failure messages. */
export class Proc {
  readonly exited: Promise<void>;
  private tail = '';

  constructor(
    readonly child: ChildProcess,
    private readonly tailChars = DEFAULT_TAIL_CHARS,
  ) {
    live.add(child);
    child.stderr?.on('data', (b: Buffer) => {
      this.tail = (this.tail + b.toString()).slice(-this.tailChars);
    });
    child.stdout?.resume();
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        live.delete(child);
        resolve();
      }),
    );
  }

  /** The last characters it wrote to stderr. */
  get stderr(): string {
    return this.tail;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `signal` (default SIGTERM) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    await this.exited;
  }
}

/** Seeds `root/sim-<i>/var/lib/gse-agent/identity.json` so a shard's instances get fleet-wide ids `sim-<offset+i>`. */
export async function seedIdentities(root: string, n: number, offset: number, prefix = 'sim'): Promise<void> {
  for (let start = 1; start <= n; start += SEED_BATCH) {
    await Promise.all(
      Array.from({ length: Math.min(SEED_BATCH, n - start + 1) }, async (_, j) => {
        const stateDir = join(root, `sim-${start + j}`, 'var/lib/gse-agent');
        await mkdir(stateDir, { recursive: true, mode: 0o700 });
        await writeFile(
          join(stateDir, 'identity.json'),
          JSON.stringify({ agentId: `${prefix}-${offset + start + j}` }),
          { mode: 0o600 },
        );
      }),
    );
  }
}

/** A base dir for agent roots: tmpfs when there is one (thousands of state dirs on disk make set-up slow). */
export async function simulatorWorkDir(prefix: string): Promise<string> {
  return mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), prefix));
}

export interface SimulatorOptions {
  /** Agents in all (split evenly over `processes`). */
  count: number;
  /** Default 1. More than one: each shard gets its own root `root/shard-k` with seeded fleet-wide ids. */
  processes?: number;
  /** Every controller URL (the agents pick one at random and move to the next on failure). */
  controllerUrls: readonly string[];
  /** Agent roots go under it. */
  root: string;
  /** Default TEST_BOOTSTRAP_TOKEN. */
  token?: string;
  /** `--ca FILE` for wss:// URLs: default the shared test CA; a ws:// list runs with `--insecure`. */
  caFile?: string;
  /** `--upgrade-delay-ms` (a simulated upgrade's download + restart). */
  upgradeDelayMs?: number;
  /** Default 'error'. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Characters of stderr kept per process (default 4,000). */
  tailChars?: number;
  /** Agent ids are `<idPrefix>-<n>` (default 'sim'); with one process and no prefix, no ids are seeded. */
  idPrefix?: string;
}

export interface Simulator {
  readonly procs: readonly Proc[];
  /** Throws (with the stderr tail) when a simulator process exited before `stop()`. */
  assertRunning(): void;
  /** Everything kept from every process's stderr. */
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts `gse-agent simulate` processes holding `count` agents in all. */
export async function startSimulator(opts: SimulatorOptions): Promise<Simulator> {
  const processes = opts.processes ?? 1;
  const urls = opts.controllerUrls.join(',');
  const tls = opts.controllerUrls.some((u) => /^(wss|https):/.test(u));
  const caFile = tls ? (opts.caFile ?? (await testCa()).caFile) : undefined;
  const procs: Proc[] = [];
  let offset = 0;
  for (let k = 0; k < processes; k++) {
    const n = Math.floor(opts.count / processes) + (k < opts.count % processes ? 1 : 0);
    const root = processes === 1 ? opts.root : join(opts.root, `shard-${k + 1}`);
    if (processes > 1 || opts.idPrefix !== undefined) await seedIdentities(root, n, offset, opts.idPrefix);
    offset += n;
    const args = [
      AGENT_MAIN,
      'simulate',
      '--count',
      String(n),
      '--controller',
      urls,
      ...(caFile ? ['--ca', caFile] : ['--insecure']),
      '--token',
      opts.token ?? TEST_BOOTSTRAP_TOKEN,
      '--root',
      root,
      ...(opts.upgradeDelayMs !== undefined ? ['--upgrade-delay-ms', String(opts.upgradeDelayMs)] : []),
      '--log-level',
      opts.logLevel ?? 'error',
    ];
    procs.push(
      new Proc(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }), opts.tailChars),
    );
  }
  let stopping = false;
  return {
    procs,
    assertRunning() {
      if (stopping) return;
      for (const p of procs) if (!p.running) throw new Error(`simulator exited: ${p.stderr}`);
    },
    stderr: () => procs.map((p) => p.stderr).join(''),
    async stop() {
      stopping = true;
      await Promise.all(procs.map((p) => p.stop()));
    },
  };
}
