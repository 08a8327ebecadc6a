/**
 * Router throughput: records/s through `Router.route()` into a Redis stream and into a file target, and the
 * raw ioredis pipelined XADD rate for the same payloads, in batches of 1,000, medians of 3 runs. Starts its
 * own redis-server (no persistence). Progress goes to stderr; the last stdout line is one JSON object.
 *
 * Usage: npm run bench -- routing-targets [RECORDS=200000] [BATCH=1000] [RUNS=3]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { DataRecord } from '../src/protocol/messages.js';
import { Router } from '../src/routing/router.js';
import { createSecretResolver } from '../src/routing/secrets.js';
import type { Route, StreamTarget } from '../src/spec/types.js';

const RECORDS = Number(process.argv[2] ?? 200_000);
const BATCH = Number(process.argv[3] ?? 1_000);
const RUNS = Number(process.argv[4] ?? 3);
/** Size of the record's `fields.msg`, chosen so `fields` is about 100 bytes of JSON. */
const MSG_CHARS = 72;
const READY_TIMEOUT_MS = 10_000;

const log = (msg: string) => process.stderr.write(`${msg}\n`);

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

async function startRedisServer(port: number): Promise<ChildProcess> {
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`redis-server not ready: ${out.slice(-500)}`)),
      READY_TIMEOUT_MS,
    );
    proc.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out.slice(-500)}`)));
  });
  return proc;
}

function makeRecords(n: number): DataRecord[] {
  const msg = 'x'.repeat(MSG_CHARS);
  return Array.from({ length: n }, (_, i) => ({
    rid: `b-${i}`,
    channel: 'metrics',
    time: '2026-01-01T00:00:00.000Z',
    host: { id: 'agent-1', name: 'web-1', ip: '10.0.0.1', cloudId: 0 },
    fields: { seq: i, level: 'info', msg },
  }));
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const pos = { file: 'bench', line: 1, col: 1 };
const streamTarget = (name: string, spec: StreamTarget['spec']): StreamTarget => ({
  apiVersion: 'gse/v1',
  kind: 'StreamTarget',
  metadata: { name },
  spec,
  pos,
});
const benchRoute = (target: string): Route => ({
  apiVersion: 'gse/v1',
  kind: 'Route',
  metadata: { name: `to-${target}` },
  spec: {
    channel: 'metrics',
    targets: [{ name: target }],
    batch: { maxRecords: BATCH, maxDelayMs: 50 },
    format: 'json',
  },
  pos,
});

async function timeRouter(target: StreamTarget, batches: DataRecord[][], stateDir: string): Promise<number> {
  const router = await Router.create(
    { routes: [benchRoute(target.metadata.name)], targets: [target], stateDir },
    { hostMatcher: () => () => true, resolveSecret: createSecretResolver({ env: {} }) },
  );
  const t0 = process.hrtime.bigint();
  for (const b of batches) await router.route(b);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const [report] = await router.close();
  const spooled = router.stats().targets[target.metadata.name]?.spooled ?? 0;
  if (report && !report.drained) throw new Error(`target ${target.metadata.name} left records in its spool`);
  if (spooled > 0) log(`  warning: ${spooled} records went through the spool`);
  return RECORDS / secs;
}

async function timeRawXadd(client: Redis, key: string, batches: DataRecord[][]): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (const b of batches) {
    const p = client.pipeline();
    for (const r of b) p.xadd(key, '*', 'rid', r.rid, 'data', JSON.stringify(r));
    const replies = await p.exec();
    if (!replies || replies.some(([err]) => err)) throw new Error('XADD pipeline failed');
  }
  return RECORDS / (Number(process.hrtime.bigint() - t0) / 1e9);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function main(): Promise<void> {
  const loadStart = Number(loadavg()[0]?.toFixed(2));
  const port = await freePort();
  const server = await startRedisServer(port);
  const url = `redis://127.0.0.1:${port}`;
  const work = await mkdtemp(join(tmpdir(), 'gse-bench-routing-'));
  const client = new Redis(url);
  try {
    const records = makeRecords(RECORDS);
    const batches = chunks(records, BATCH);
    const payloadBytes = Math.round(records.reduce((n, r) => n + JSON.stringify(r).length, 0) / RECORDS);
    const fieldsBytes = Math.round(
      records.reduce((n, r) => n + JSON.stringify(r.fields).length, 0) / RECORDS,
    );
    log(
      `routing-targets: ${RECORDS} records (fields ${fieldsBytes} B, payload ${payloadBytes} B), batches of ${BATCH}`,
    );
    const runs = { rawXadd: [] as number[], routerRedis: [] as number[], routerFile: [] as number[] };
    const raw = async (i: number) => {
      runs.rawXadd.push(await timeRawXadd(client, `bench:raw:${i}`, batches));
      await client.del(`bench:raw:${i}`);
      log(`run ${i}: raw XADD ${Math.round(runs.rawXadd.at(-1) as number)}/s`);
    };
    const viaRouter = async (i: number) => {
      const redisTarget = streamTarget('redis', { redis: { url, mode: 'stream', key: `bench:router:${i}` } });
      runs.routerRedis.push(await timeRouter(redisTarget, batches, join(work, `state-r${i}`)));
      await client.del(`bench:router:${i}`);
      log(`run ${i}: router -> redis stream ${Math.round(runs.routerRedis.at(-1) as number)}/s`);
    };
    for (let i = 1; i <= RUNS; i++) {
      // Alternate which of the two compared Redis paths goes first, so warm-up and drift do not favour one.
      if (i % 2 === 1) {
        await raw(i);
        await viaRouter(i);
      } else {
        await viaRouter(i);
        await raw(i);
      }
      const fileTarget = streamTarget('file', {
        file: { path: join(work, `out-${i}.jsonl`), fsync: 'batch' },
      });
      runs.routerFile.push(await timeRouter(fileTarget, batches, join(work, `state-f${i}`)));
      await rm(join(work, `out-${i}.jsonl`), { force: true });
      log(`run ${i}: router -> file ${Math.round(runs.routerFile.at(-1) as number)}/s`);
    }
    const med = {
      rawXadd: Math.round(median(runs.rawXadd)),
      routerRedis: Math.round(median(runs.routerRedis)),
      routerFile: Math.round(median(runs.routerFile)),
    };
    const round = (xs: number[]) => xs.map((x) => Math.round(x));
    const result = {
      bench: 'routing-targets',
      records: RECORDS,
      batch: BATCH,
      runs: RUNS,
      fieldsBytes,
      payloadBytes,
      unit: 'records/s',
      medians: med,
      ratioRouterRedisToRawXadd: Number((med.routerRedis / med.rawXadd).toFixed(3)),
      ratioRouterFileToRawXadd: Number((med.routerFile / med.rawXadd).toFixed(3)),
      samples: {
        rawXadd: round(runs.rawXadd),
        routerRedis: round(runs.routerRedis),
        routerFile: round(runs.routerFile),
      },
      fileFsync: 'batch',
      node: process.version,
      cpus: cpus().length,
      loadAvg1m: { start: loadStart, end: Number(loadavg()[0]?.toFixed(2)) },
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    client.disconnect();
    server.kill('SIGTERM');
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  log(`routing-targets failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
