/**
 * End-to-end data channel throughput: records pushed into the ingest sockets of N simulated agents
 * (`gse-agent simulate`, one child process), through a controller child process (`gsectl serve` on a git
 * repo with one route per target), to a Redis stream (its own redis-server, no persistence) and, separately,
 * to a file target, and to a Kafka topic when a broker can run here (bench/_lib/kafka-broker.ts; otherwise
 * `kafka.skipped` says why). In the same run, the raw ioredis pipelined XADD rate (batches of 1,000) of the same
 * payloads, and the ratio. Loss and duplicates are counted by rid after each run. Medians of `--runs`.
 * Beside the rates, the CPU time each process spent per record (from /proc, Linux only): on a loaded machine
 * the rates swing with the neighbours, the CPU cost per record much less, and it says where the time goes.
 * End to end, it is read over the delivery window only (first push to last record in the stream); `<part>Sys`
 * is each process's kernel share.
 * Progress goes to stderr; the last stdout line is one JSON object.
 *
 * Usage: npm run bench -- routing [--agents 100] [--records 2000] [--runs 3] [--profile DIR]
 * `--profile DIR` writes a V8 CPU profile of the controller and of the simulated agents into DIR.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { push } from '../agent/push.js';
import { type KafkaBroker, kafkaAvailability, startKafka } from './_lib/kafka-broker.js';
import { probeMachine } from './_lib/machine.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONTROLLER_MAIN = join(ROOT, 'dist/src/cli/main.js');
const AGENT_MAIN = join(ROOT, 'dist/agent/main.js');
const BOOTSTRAP = 'bench-routing-bootstrap-0123456789';
const ADMIN = 'bench-routing-admin-0123456789abcdef';
const STREAM_KEY = 'bench:routing';
const KAFKA_TOPIC = 'bench-routing';
const RAW_KEY = 'bench:raw';
/** Records per raw XADD pipeline and per route batch. */
const BATCH = 1_000;
/** Chars of `fields.msg`, so that a record's fields are about 100 bytes of JSON. */
const MSG_CHARS = 60;
/** Goal: end to end at least this share of the raw XADD rate. */
const GOAL_RATIO = 0.7;
const POLL_MS = 10;
const READY_TIMEOUT_MS = 60_000;
const DELIVERY_TIMEOUT_MS = 300_000;

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS_PER_SEC = 100;

const run = promisify(execFile);
const log = (msg: string) => process.stderr.write(`${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '100' },
    records: { type: 'string', default: '2000' },
    runs: { type: 'string', default: '3' },
    profile: { type: 'string' },
  },
});
const AGENTS = Number(args.agents);
const PER_AGENT = Number(args.records);
const RUNS = Number(args.runs);
const TOTAL = AGENTS * PER_AGENT;
const PROFILE_FLAGS = args.profile ? ['--cpu-prof', '--cpu-prof-dir', args.profile] : [];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function child(name: string, argv: string[]): ChildProcess {
  const c = spawn(process.execPath, [...PROFILE_FLAGS, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  c.stderr?.on('data', (b: Buffer) => {
    tail = (tail + b.toString()).slice(-2_000);
  });
  c.once('exit', (code, signal) => {
    if (code && code !== 0) log(`${name} exited ${code ?? signal}: ${tail}`);
  });
  return c;
}

async function stop(c: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill(signal);
  await exited;
}

async function startRedisServer(port: number): Promise<ChildProcess> {
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out.slice(-500)}`)));
  });
  return proc;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

/** The Kafka target and its route, when a broker runs. */
function kafkaYaml(brokers: string[]): string {
  return `---
apiVersion: gse/v1
kind: StreamTarget
metadata: { name: bench-kafka }
spec:
  kafka: { brokers: ${JSON.stringify(brokers)}, topic: ${KAFKA_TOPIC}, clientId: gse-bench }
---
apiVersion: gse/v1
kind: Route
metadata: { name: to-kafka }
spec:
  channel: bench-kafka
  targets: [{ name: bench-kafka }]
  batch: { maxRecords: ${BATCH}, maxDelay: 20ms }
`;
}

function fleetYaml(redisUrl: string, filePath: string): string {
  return `apiVersion: gse/v1
kind: StreamTarget
metadata: { name: bench-redis }
spec:
  redis: { url: "${redisUrl}", mode: stream, key: "${STREAM_KEY}" }
---
apiVersion: gse/v1
kind: StreamTarget
metadata: { name: bench-file }
spec:
  file: { path: "${filePath}", fsync: batch }
---
apiVersion: gse/v1
kind: Route
metadata: { name: to-redis }
spec:
  channel: bench-redis
  targets: [{ name: bench-redis }]
  batch: { maxRecords: ${BATCH}, maxDelay: 20ms }
---
apiVersion: gse/v1
kind: Route
metadata: { name: to-file }
spec:
  channel: bench-file
  targets: [{ name: bench-file }]
  batch: { maxRecords: ${BATCH}, maxDelay: 20ms }
`;
}

/** Each agent's input: PER_AGENT JSON lines of about 100 bytes of fields each. */
function agentInputs(channel: string, runNo: number): string[] {
  const msg = 'x'.repeat(MSG_CHARS);
  return Array.from({ length: AGENTS }, (_, a) => {
    const lines: string[] = [];
    for (let i = 0; i < PER_AGENT; i++)
      lines.push(JSON.stringify({ channel, run: runNo, agent: a + 1, seq: i, level: 'info', msg }));
    return `${lines.join('\n')}\n`;
  });
}

interface Delivery {
  recordsPerSec: number;
  /** Seconds until every pusher had its records accepted (spooled by the agents). */
  pushSecs: number;
  totalSecs: number;
  distinct: number;
  duplicates: number;
  lost: number;
}

async function pushAll(sockets: string[], inputs: string[]): Promise<void> {
  const results = await Promise.all(
    sockets.map((s, i) => push({ socketPath: s, input: [inputs[i] as string] })),
  );
  const bad = results.find((r) => !r.ok || r.accepted !== PER_AGENT);
  if (bad) throw new Error(`push failed: ${JSON.stringify(bad)}`);
}

/**
 * Marks the delivery window for the CPU readings: `start` right before the first push, `stop` once every
 * record arrived, so building the inputs and checking the stream afterwards (an XRANGE of every entry) count
 * neither to the bench nor to Redis.
 */
interface CpuWindow {
  start(): Promise<void>;
  stop(): Promise<void>;
}

async function timeRedisRun(
  client: Redis,
  sockets: string[],
  runNo: number,
  window: CpuWindow,
): Promise<Delivery> {
  await client.del(STREAM_KEY);
  const inputs = agentInputs('bench-redis', runNo);
  await window.start();
  const t0 = process.hrtime.bigint();
  await pushAll(sockets, inputs);
  const tPushed = process.hrtime.bigint();
  await until(
    'every record in the stream',
    async () => (await client.xlen(STREAM_KEY)) >= TOTAL,
    DELIVERY_TIMEOUT_MS,
  );
  const t1 = process.hrtime.bigint();
  await window.stop();
  const rids = new Set<string>();
  let entries = 0;
  let start = '-';
  for (;;) {
    const page = await client.xrange(STREAM_KEY, start, '+', 'COUNT', 10_000);
    for (const [, f] of page) {
      entries++;
      rids.add(f[1] as string);
    }
    if (page.length < 10_000) break;
    start = `(${(page.at(-1) as [string, string[]])[0]}`;
  }
  return delivery(t0, tPushed, t1, rids.size, entries);
}

async function timeFileRun(
  api: <T>(path: string) => Promise<T>,
  sockets: string[],
  filePath: string,
  runNo: number,
): Promise<Delivery> {
  const written = async () => {
    const s = await api<{ targets: { name: string; written: number }[] }>('/api/v1/status');
    return s.targets.find((t) => t.name === 'bench-file')?.written ?? 0;
  };
  const base = await written();
  const inputs = agentInputs('bench-file', runNo);
  const t0 = process.hrtime.bigint();
  await pushAll(sockets, inputs);
  const tPushed = process.hrtime.bigint();
  await until('every record in the file', async () => (await written()) >= base + TOTAL, DELIVERY_TIMEOUT_MS);
  const t1 = process.hrtime.bigint();
  const rids = new Set<string>();
  let lines = 0;
  const marker = `"run":${runNo},`;
  for await (const line of createInterface({ input: createReadStream(filePath) })) {
    if (!line.includes(marker)) continue;
    lines++;
    rids.add((JSON.parse(line) as { rid: string }).rid);
  }
  return delivery(t0, tPushed, t1, rids.size, lines);
}

/** Distinct rids per run seen on the Kafka topic, and messages per run, fed by one consumer. */
interface KafkaSeen {
  rids: Map<number, Set<string>>;
  messages: Map<number, number>;
}

async function timeKafkaRun(sockets: string[], seen: KafkaSeen, runNo: number): Promise<Delivery> {
  const inputs = agentInputs('bench-kafka', runNo);
  const t0 = process.hrtime.bigint();
  await pushAll(sockets, inputs);
  const tPushed = process.hrtime.bigint();
  await until(
    'every record in Kafka',
    async () => (seen.rids.get(runNo)?.size ?? 0) >= TOTAL,
    DELIVERY_TIMEOUT_MS,
  );
  const t1 = process.hrtime.bigint();
  return delivery(t0, tPushed, t1, seen.rids.get(runNo)?.size ?? 0, seen.messages.get(runNo) ?? 0);
}

function delivery(t0: bigint, tPushed: bigint, t1: bigint, distinct: number, entries: number): Delivery {
  const secs = (a: bigint, b: bigint) => Number(b - a) / 1e9;
  return {
    recordsPerSec: Math.round(TOTAL / secs(t0, t1)),
    pushSecs: Number(secs(t0, tPushed).toFixed(3)),
    totalSecs: Number(secs(t0, t1).toFixed(3)),
    distinct,
    duplicates: entries - distinct,
    lost: TOTAL - distinct,
  };
}

async function timeRawXadd(client: Redis): Promise<number> {
  await client.del(RAW_KEY);
  const msg = 'x'.repeat(MSG_CHARS);
  const host = { id: 'sim-1', name: 'sim-1', ip: '127.1.0.1', cloudId: 0 };
  const t0 = process.hrtime.bigint();
  for (let b = 0; b < TOTAL; b += BATCH) {
    const p = client.pipeline();
    for (let i = b; i < Math.min(TOTAL, b + BATCH); i++) {
      const rid = `sim-1-raw-${i}`;
      const rec = {
        rid,
        channel: 'bench-redis',
        time: new Date().toISOString(),
        host,
        fields: { seq: i, msg },
      };
      p.xadd(RAW_KEY, '*', 'rid', rid, 'data', JSON.stringify(rec));
    }
    const replies = await p.exec();
    if (!replies || replies.some(([err]) => err)) throw new Error('XADD pipeline failed');
  }
  const rate = TOTAL / (Number(process.hrtime.bigint() - t0) / 1e9);
  await client.del(RAW_KEY);
  return Math.round(rate);
}

/** CPU seconds a process has used so far, all and in the kernel, from /proc; undefined where there is none. */
async function cpuSecsOf(pid: number | undefined): Promise<CpuReading | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // After "pid (comm) ", utime and stime (fields 14 and 15) are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const sys = Number(fields[12]) / CLOCK_TICKS_PER_SEC;
    return { all: Number(fields[11]) / CLOCK_TICKS_PER_SEC + sys, sys };
  } catch {
    return undefined;
  }
}

type CpuPart = 'bench' | 'agents' | 'controller' | 'redis';
interface CpuReading {
  /** User plus system seconds. */
  all: number;
  /** System (kernel) seconds. */
  sys: number;
}
type CpuSecs = Partial<Record<CpuPart, CpuReading>>;

async function cpuNow(pids: Partial<Record<Exclude<CpuPart, 'bench'>, number>>): Promise<CpuSecs> {
  const u = process.cpuUsage();
  const out: CpuSecs = { bench: { all: (u.user + u.system) / 1e6, sys: u.system / 1e6 } };
  for (const [part, pid] of Object.entries(pids) as [CpuPart, number][]) {
    const secs = await cpuSecsOf(pid);
    if (secs !== undefined) out[part] = secs;
  }
  return out;
}

/**
 * CPU microseconds per record of each process between two readings, and their total; `<part>Sys` is the
 * kernel's share of a part (socket and file I/O), which the JS profile does not show.
 */
function cpuPerRecord(before: CpuSecs, after: CpuSecs): Record<string, number> {
  const out: Record<string, number> = {};
  const perRecord = (secs: number) => Number(((secs / TOTAL) * 1e6).toFixed(2));
  let total = 0;
  for (const part of Object.keys(after) as CpuPart[]) {
    const a = after[part];
    const b = before[part];
    if (a === undefined || b === undefined) continue;
    out[part] = perRecord(a.all - b.all);
    out[`${part}Sys`] = perRecord(a.sys - b.sys);
    total += out[part];
  }
  out.total = Number(total.toFixed(2));
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function main(): Promise<void> {
  // Before the fleet starts, while this process is small (its size is part of spawnTrueMs).
  const machine = probeMachine();
  const loadStart = loadavg().map((x) => Number(x.toFixed(2)));
  const work = await mkdtemp(join(tmpdir(), 'gse-bench-rt-'));
  const procs: ChildProcess[] = [];
  let redisProc: ChildProcess | undefined;
  let client: Redis | undefined;
  let broker: KafkaBroker | undefined;
  let consumer: ReturnType<Kafka['consumer']> | undefined;
  const kafka = kafkaAvailability();
  if (!kafka.ok) log(`routing: no Kafka figure: ${kafka.reason}`);
  try {
    const seen: KafkaSeen = { rids: new Map(), messages: new Map() };
    if (kafka.ok) {
      broker = await startKafka();
      const k = new Kafka({ brokers: broker.brokers, clientId: 'gse-bench', logLevel: logLevel.NOTHING });
      const admin = k.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: KAFKA_TOPIC, numPartitions: 1 }], waitForLeaders: true });
      await admin.disconnect();
      consumer = k.consumer({ groupId: 'gse-bench-check' });
      await consumer.connect();
      await consumer.subscribe({ topic: KAFKA_TOPIC, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          const run = Number(/"run":(\d+),/.exec(message.value?.toString() ?? '')?.[1] ?? 0);
          const rid = message.headers?.rid?.toString() ?? '';
          seen.messages.set(run, (seen.messages.get(run) ?? 0) + 1);
          const rids = seen.rids.get(run) ?? new Set<string>();
          rids.add(rid);
          seen.rids.set(run, rids);
        },
      });
    }
    const redisPort = await freePort();
    redisProc = await startRedisServer(redisPort);
    const redisUrl = `redis://127.0.0.1:${redisPort}`;
    client = new Redis(redisUrl);
    const filePath = join(work, 'out', 'records.jsonl');
    const repo = join(work, 'repo');
    await mkdir(join(repo, 'fleet'), { recursive: true });
    await writeFile(
      join(repo, 'fleet', 'bench.yaml'),
      fleetYaml(redisUrl, filePath) + (broker ? kafkaYaml(broker.brokers) : ''),
    );
    const git = (...a: string[]) =>
      run('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', ...a], { cwd: repo });
    await git('init', '-q', '-b', 'main');
    await git('add', '-A');
    await git('commit', '-q', '-m', 'bench routes');

    const port = await freePort();
    const api = async <T>(path: string): Promise<T> => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      if (!res.ok) throw new Error(`${path}: ${res.status}`);
      return (await res.json()) as T;
    };
    procs.push(
      child('controller', [
        CONTROLLER_MAIN,
        'serve',
        '--repo',
        repo,
        '--path',
        'fleet',
        '--listen',
        `127.0.0.1:${port}`,
        '--state-dir',
        join(work, 'ctl'),
        '--bootstrap-token',
        BOOTSTRAP,
        '--admin-token',
        ADMIN,
        '--log-level',
        'warn',
      ]),
    );
    await until(
      'controller with routes',
      async () => (await api<{ targets: unknown[] }>('/api/v1/status')).targets.length === (broker ? 3 : 2),
      READY_TIMEOUT_MS,
    );
    const fleetRoot = join(work, 'f');
    procs.push(
      child('simulate', [
        AGENT_MAIN,
        'simulate',
        '--count',
        String(AGENTS),
        '--controller',
        `ws://127.0.0.1:${port}/agent`,
        '--insecure',
        '--token',
        BOOTSTRAP,
        '--root',
        fleetRoot,
        '--log-level',
        'warn',
      ]),
    );
    const sockets = Array.from({ length: AGENTS }, (_, i) =>
      join(fleetRoot, `sim-${i + 1}`, 'var/lib/gse-agent', 'ingest.sock'),
    );
    await until(
      `${AGENTS} agents connected`,
      async () => (await api<{ hosts: { connected: number } }>('/api/v1/status')).hosts.connected >= AGENTS,
      READY_TIMEOUT_MS,
    );
    await until(
      'every ingest socket',
      () => Promise.all(sockets.map((s) => access(s))).then(() => true),
      10_000,
    );
    log(`routing: ${AGENTS} agents x ${PER_AGENT} records = ${TOTAL} per run, ${RUNS} runs`);

    const raw: number[] = [];
    const viaRedis: Delivery[] = [];
    const viaFile: Delivery[] = [];
    const viaKafka: Delivery[] = [];
    const cpuRaw: Record<string, number>[] = [];
    const cpuRedis: Record<string, number>[] = [];
    const pids = { controller: procs[0]?.pid, agents: procs[1]?.pid, redis: redisProc.pid };
    for (let r = 1; r <= RUNS; r++) {
      let before = await cpuNow(pids);
      raw.push(await timeRawXadd(client));
      cpuRaw.push(cpuPerRecord(before, await cpuNow(pids)));
      log(`run ${r}: raw XADD ${raw.at(-1)}/s, CPU us/record ${JSON.stringify(cpuRaw.at(-1))}`);
      viaRedis.push(
        await timeRedisRun(client, sockets, r, {
          start: async () => {
            before = await cpuNow(pids);
          },
          stop: async () => {
            cpuRedis.push(cpuPerRecord(before, await cpuNow(pids)));
          },
        }),
      );
      log(`run ${r}: agents -> controller -> redis ${JSON.stringify(viaRedis.at(-1))}`);
      log(`run ${r}: CPU us/record ${JSON.stringify(cpuRedis.at(-1))}`);
      viaFile.push(await timeFileRun(api, sockets, filePath, r));
      log(`run ${r}: agents -> controller -> file ${JSON.stringify(viaFile.at(-1))}`);
      if (broker) {
        viaKafka.push(await timeKafkaRun(sockets, seen, r));
        log(`run ${r}: agents -> controller -> kafka ${JSON.stringify(viaKafka.at(-1))}`);
      }
    }
    const med = {
      rawXadd: median(raw),
      endToEndRedis: median(viaRedis.map((d) => d.recordsPerSec)),
      endToEndFile: median(viaFile.map((d) => d.recordsPerSec)),
      ...(broker ? { endToEndKafka: median(viaKafka.map((d) => d.recordsPerSec)) } : {}),
    };
    const ratio = Number((med.endToEndRedis / med.rawXadd).toFixed(3));
    const medianOf = (rows: Record<string, number>[]) =>
      Object.fromEntries(Object.keys(rows[0] ?? {}).map((k) => [k, median(rows.map((x) => x[k] ?? 0))]));
    const all = [...viaRedis, ...viaFile, ...viaKafka];
    const result = {
      bench: 'routing',
      agents: AGENTS,
      recordsPerAgent: PER_AGENT,
      recordsPerRun: TOTAL,
      runs: RUNS,
      batch: BATCH,
      unit: 'records/s',
      medians: med,
      ratioEndToEndRedisToRawXadd: ratio,
      // Kafka beside Redis and file: at-least-once, so duplicates may be above 0 (deduped by rid).
      kafka: kafka.ok ? { broker: 'single-node KRaft (scripts/kafka)' } : { skipped: kafka.reason },
      ratioPerRun: raw.map((x, i) => Number(((viaRedis[i]?.recordsPerSec ?? 0) / x).toFixed(3))),
      cpuMicrosPerRecord: { rawXadd: medianOf(cpuRaw), endToEndRedis: medianOf(cpuRedis) },
      goalRatio: GOAL_RATIO,
      goalMet: ratio >= GOAL_RATIO,
      lost: all.reduce((n, d) => n + d.lost, 0),
      duplicates: all.reduce((n, d) => n + d.duplicates, 0),
      samples: {
        rawXadd: raw,
        endToEndRedis: viaRedis,
        endToEndFile: viaFile,
        endToEndKafka: viaKafka,
        cpuMicrosPerRecord: { rawXadd: cpuRaw, endToEndRedis: cpuRedis },
      },
      node: process.version,
      machine,
      cpus: cpus().length,
      loadAvg: { start: loadStart, end: loadavg().map((x) => Number(x.toFixed(2))) },
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await consumer?.disconnect().catch(() => {});
    await broker?.cleanup();
    client?.disconnect();
    for (const p of procs.reverse()) await stop(p);
    await stop(redisProc);
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  log(`routing failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
