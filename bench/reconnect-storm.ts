/**
 * `npm run bench -- reconnect-storm [--count 10000] [--rates 0,2000] [--per-process M] [--timeout-ms 120000]`
 *
 * "10,000 agents connect after a controller restart", with and without admission pacing. A real controller
 * in this process (SQLite store, one ConfigFile for every host) and N simulated agents in child processes
 * (`gse-agent simulate`, roots on tmpfs). Once all N are connected, for each rate in `--rates` (0: pacing
 * off) the controller is stopped and a new one started on the same port and state dir with
 * `admissionRate` = that rate; the bench measures from the new controller listening to all N connected
 * (p10/p50/p90/all), the handshakes it paced (503 + retry-after), and the controller's event-loop delay
 * during the storm (max and p99, from monitorEventLoopDelay: how responsive /healthz and the API stay).
 * Then, with the fleet stopped, the floor in the same run (`floor.wsConnectAllMs`): as many bare ws clients
 * in as many node processes, all connecting at once to a bare ws server in this process. No handshake frames,
 * no authentication, no store: what the connections alone cost on these cores (BASELINES.md's "ws, 1,000
 * connections: connect all"). Prints one JSON object as its last line.
 */
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { WebSocketServer } from 'ws';
import { LISTEN_BACKLOG } from '../src/controller/controller.js';
import { type BenchController, startBenchController } from './_lib/controller.js';
import { type SimFleet, startSimulator } from './_lib/fleet-sim.js';
import { probeMachine } from './_lib/machine.js';
import {
  argValue,
  benchRepo,
  ensureOpenFileLimit,
  intArg,
  loadAverage,
  motdSpec,
  openFileLimit,
  pollUntil,
  progress,
  removeDir,
  round,
  runBench,
  spawnNode,
  tmpfsDir,
} from './_lib/util.js';

/** The goal for 10,000 agents after a restart. */
const GOAL_MS = 8_000;

/**
 * `count` bare ws clients in `processes` node processes, started at once, each opening its share of
 * connections at once to a bare ws server here (the controller's listen backlog); ms from the
 * first spawn to every connection open, or null when `timeoutMs` passed first.
 */
async function wsConnectFloorMs(count: number, processes: number, timeoutMs: number): Promise<number | null> {
  const server = createServer();
  const wss = new WebSocketServer({ server });
  let connected = 0;
  wss.on('connection', () => {
    connected += 1;
  });
  await new Promise<void>((resolve) =>
    server.listen({ port: 0, host: '127.0.0.1', backlog: LISTEN_BACKLOG }, () => resolve()),
  );
  const { port } = server.address() as { port: number };
  const wsModule = createRequire(import.meta.url).resolve('ws');
  const { hard } = openFileLimit();
  // A client that fails (a reset under the storm) tries again after 100 ms, as an agent would.
  const script =
    'const WebSocket=require(process.argv[1]);const url=process.argv[2];' +
    "const open=()=>{const ws=new WebSocket(url);ws.on('error',()=>setTimeout(open,100));};" +
    'for(let i=Number(process.argv[3]);i>0;i--)open();setInterval(()=>{},1e9);';
  const t0 = performance.now();
  const children = Array.from({ length: processes }, (_, k) => {
    const share = Math.floor(count / processes) + (k < count % processes ? 1 : 0);
    return spawnNode(['-e', script, wsModule, `ws://127.0.0.1:${port}/`, String(share)], { nofile: hard });
  });
  try {
    const done = await pollUntil(() => connected >= count, timeoutMs, 10);
    return done ? round(performance.now() - t0, 0) : null;
  } finally {
    await Promise.all(children.map((c) => c.stop(5_000)));
    for (const client of wss.clients) client.terminate();
    wss.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

let work: string | undefined;
let agentsRoot: string | undefined;
let ctl: BenchController | undefined;
let fleet: SimFleet | undefined;

/** The controller's host-state write counters so far (its Prometheus counters). */
async function hostWriteCounts(c: BenchController): Promise<{ hosts: number; batches: number }> {
  const value = async (m: { get(): Promise<{ values: Array<{ value: number }> }> }) =>
    (await m.get()).values[0]?.value ?? 0;
  const metrics = c.controller.metrics;
  return { hosts: await value(metrics.hostWrites), batches: await value(metrics.hostWriteBatches) };
}

interface StormRound {
  admissionRate: number | 'off';
  /** From the restarted controller listening to every agent connected; null when the timeout passed. */
  allConnectedMs: number | null;
  p10Ms: number | null;
  p50Ms: number | null;
  p90Ms: number | null;
  connected: number;
  /** Upgrades answered 503 + retry-after (pacing, or the max-handshakes cap). */
  handshakesPaced: number;
  eventLoopDelayMaxMs: number;
  eventLoopDelayP99Ms: number;
  /** CPU seconds, restart to all connected: this process (the controller) and the simulate processes. */
  controllerCpuS: number;
  simulatorCpuS: number;
  /**
   * Host states the controller wrote to its store from the restart until every host was Synced again, per
   * agent (gse_store_host_writes_total): 1 when a returning host's connect and report share one write.
   */
  hostWritesPerAgent: number | null;
  /** Store commits of host states in that time (gse_store_host_write_batches_total). */
  hostWriteBatches: number | null;
  goalMs: number;
  goalMet: boolean;
}

async function main(): Promise<void> {
  // Before the fleet starts, while this process is small (its size is part of spawnTrueMs).
  const machine = probeMachine();
  const count = intArg('count', 10_000);
  const timeoutMs = intArg('timeout-ms', 120_000);
  const perProcess = intArg('per-process', Number.MAX_SAFE_INTEGER);
  const rates = (argValue('rates', '0,2000') as string).split(',').map((r) => Number(r.trim()));
  if (rates.some((r) => !Number.isInteger(r) || r < 0))
    throw new Error('--rates: whole numbers >= 0, e.g. 0,2000');
  if (await ensureOpenFileLimit(65_536)) return;
  const startedAt = performance.now();

  work = await mkdtemp(join(tmpdir(), 'gse-bench-storm-'));
  agentsRoot = await tmpfsDir('gse-bench-storm-agents-');
  const repo = await benchRepo(join(work, 'repo'), {
    'motd.yaml': motdSpec('motd', '/etc/motd', 'managed by gse-gitops\n'),
  });
  const stateDir = join(work, 'state');
  const start = async (admissionRate: number, listen = '127.0.0.1:0'): Promise<BenchController> => {
    const c = await startBenchController(repo.dir, stateDir, {
      watchLocal: false,
      fetchIntervalMs: 60_000,
      admissionRate,
      listen,
    });
    const first = await c.controller.source.fetchNow();
    if (!first) throw new Error('no first revision');
    return c;
  };

  ctl = await start(rates[0] ?? 0);
  const port = new URL(ctl.url).port;
  fleet = await startSimulator({ count, agentUrl: ctl.agentUrl, root: agentsRoot, perProcess });
  const f = fleet;
  const first = ctl;
  const initial = await pollUntil(
    () => first.controller.hub.connectedCount >= count || f.died(),
    Math.max(timeoutMs, 30_000 + count * 30),
    50,
  );
  progress('fleet connected', { ok: initial, connected: first.controller.hub.connectedCount });
  if (!initial || f.died())
    throw new Error(
      `the simulated fleet did not connect: ${JSON.stringify(f.children.flatMap((ch) => ch.tail()).slice(-10))}`,
    );

  const rounds: StormRound[] = [];
  for (const rate of rates) {
    await ctl.stop();
    const c = await start(rate, `127.0.0.1:${port}`);
    ctl = c;
    const writes0 = await hostWriteCounts(c);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const simCpu0 = f.cpuSeconds();
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const marks: Record<string, number> = {};
    const done = await pollUntil(
      () => {
        const n = c.controller.hub.connectedCount;
        for (const pct of [10, 50, 90]) {
          const key = `p${pct}`;
          if (marks[key] === undefined && n >= (count * pct) / 100) marks[key] = performance.now() - t0;
        }
        return n >= count || f.died();
      },
      timeoutMs,
      20,
    );
    const allMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const simulatorCpuS = f.cpuSeconds() - simCpu0;
    lag.disable();
    const stats = c.controller.hub.stats();
    // The writes of the storm: until every host reported back (Synced) and its state was stored.
    const settled = await pollUntil(() => c.syncedCount() >= count, timeoutMs, 50);
    if (settled) await c.controller.reconciler.stored();
    const writes = await hostWriteCounts(c);
    const round_: StormRound = {
      admissionRate: rate === 0 ? 'off' : rate,
      allConnectedMs: done && stats.connected >= count ? round(allMs, 0) : null,
      p10Ms: marks.p10 === undefined ? null : round(marks.p10, 0),
      p50Ms: marks.p50 === undefined ? null : round(marks.p50, 0),
      p90Ms: marks.p90 === undefined ? null : round(marks.p90, 0),
      connected: stats.connected,
      handshakesPaced: stats.handshakesRejected,
      eventLoopDelayMaxMs: round(lag.max / 1e6, 1),
      eventLoopDelayP99Ms: round(lag.percentile(99) / 1e6, 1),
      controllerCpuS: round((cpu.user + cpu.system) / 1e6, 2),
      simulatorCpuS: round(simulatorCpuS, 2),
      hostWritesPerAgent: settled ? round((writes.hosts - writes0.hosts) / count, 2) : null,
      hostWriteBatches: settled ? writes.batches - writes0.batches : null,
      goalMs: GOAL_MS,
      goalMet: done && stats.connected >= count && allMs <= GOAL_MS,
    };
    rounds.push(round_);
    progress('storm round done', { ...round_ });
  }

  const processes = f.children.length;
  await f.stop();
  fleet = undefined;
  const floorMs = await wsConnectFloorMs(count, processes, timeoutMs);
  progress('ws connect floor', { count, processes, ms: floorMs });

  console.log(
    JSON.stringify({
      bench: 'reconnect-storm',
      agents: count,
      simulatorProcesses: processes,
      measuredFrom: 'restarted controller listening -> hub.connectedCount === agents',
      goal: `${count.toLocaleString('en')} agents connected within ${GOAL_MS} ms of a controller restart`,
      rounds,
      floor: {
        wsConnectAllMs: floorMs,
        // How many times the floor each round's storm took (null when either did not finish).
        ratios: rounds.map((r) =>
          r.allConnectedMs === null || floorMs === null ? null : round(r.allConnectedMs / floorMs, 2),
        ),
      },
      totalSeconds: round((performance.now() - startedAt) / 1000, 1),
      loadAverage: loadAverage(),
      machine,
      node: process.version,
    }),
  );
}

runBench(main, async () => {
  await fleet?.stop().catch(() => undefined);
  await ctl?.stop().catch((err: unknown) => progress('controller stop failed', { error: String(err) }));
  await removeDir(agentsRoot);
  await removeDir(work);
});
