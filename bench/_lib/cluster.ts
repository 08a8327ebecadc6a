/**
 * Controller replicas for the benches: a real redis-server on a free port and `gsectl serve --redis URL
 * --replica-id ID` child processes (plain HTTP: the benches measure the fleet, not TLS), with their API
 * and the cluster's lease read straight from Redis. Like test/helpers/replicas.ts, which bench/ cannot import.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import {
  BENCH_ADMIN_TOKEN,
  BENCH_BOOTSTRAP_TOKEN,
  type ManagedChild,
  openFileLimit,
  pollUntil,
  procCpuSeconds,
  REPO_ROOT,
  spawnNode,
} from './util.js';

const GSECTL_MAIN = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
/** Bound for redis-server or a replica to answer after it is started. */
const START_TIMEOUT_MS = 120_000;

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const address = srv.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export interface BenchRedis {
  url: string;
  /** redis-server's CPU seconds so far (user + system, from /proc), or NaN. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** redis-server on a free port, AOF on (`appendfsync everysec`, as docs/OPERATIONS.md asks), in a temp dir. */
export async function startBenchRedis(): Promise<BenchRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'gse-bench-redis-'));
  const proc: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout?.resume();
  proc.stderr?.resume();
  const url = `redis://127.0.0.1:${port}`;
  const up = await pollUntil(
    async () =>
      (await leaseHolder(url).then(
        () => true,
        () => false,
      )) === true,
    START_TIMEOUT_MS,
    100,
  );
  if (!up) throw new Error('redis-server did not answer');
  return {
    url,
    cpuSeconds: () => procCpuSeconds(proc.pid),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The replica holding the leader lease (`gse:cluster:lease` = "<token>:<replica id>"), or undefined. */
export async function leaseHolder(redisUrl: string): Promise<string | undefined> {
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const lease = await client.get('gse:cluster:lease');
    return /^\d+:(.*)$/.exec(lease ?? '')?.[1];
  } finally {
    client.disconnect();
  }
}

/** The cluster's shared keys read over one connection (for polling in a measurement). */
export interface ClusterWatch {
  /** The lease holder's replica id, or undefined. */
  leader(): Promise<string | undefined>;
  /** The id (commit SHA) of the revision the leader published, or undefined. */
  revision(): Promise<string | undefined>;
  /**
   * The applied revision and the count of hosts Synced, as the shared store holds them (what
   * GET /api/v1/status reports, read without asking a replica to serve the request).
   */
  synced(): Promise<{ applied: string | undefined; synced: number }>;
  close(): void;
}

/** Opens a ClusterWatch on `redisUrl`. */
export async function watchCluster(redisUrl: string): Promise<ClusterWatch> {
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  await client.connect();
  return {
    leader: async () => /^\d+:(.*)$/.exec((await client.get('gse:cluster:lease')) ?? '')?.[1],
    revision: async () => /"id":"([^"]+)"/.exec(await client.getrange('gse:cluster:revision', 0, 199))?.[1],
    async synced() {
      const [applied, synced] = await Promise.all([
        client.get('gse:appliedRevision'),
        client.zcard('gse:hosts:syncState:Synced'),
      ]);
      return { applied: applied ?? undefined, synced };
    },
    close: () => client.disconnect(),
  };
}

export interface BenchReplica {
  readonly id: string;
  readonly port: number;
  /** ws://127.0.0.1:PORT/agent */
  readonly agentUrl: string;
  readonly proc: ManagedChild;
  running(): boolean;
  /** The API as admin: GET, or POST `body` as JSON. */
  api<T>(path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Agents this replica holds (GET /api/v1/status, hosts.connected: its own sessions). */
  held(): Promise<number>;
  rssMiB(): number;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM, and wait for the exit. */
  stop(): Promise<void>;
}

export interface ReplicaSpec {
  id: string;
  redisUrl: string;
  repo: string;
  stateDir: string;
  leaseMs: number;
  port: number;
}

/** GSE_BENCH_REPLICA_LOG_DIR: each replica logs at info level to DIR/<replica id>.log (appended). */
const LOG_DIR = process.env.GSE_BENCH_REPLICA_LOG_DIR;

/** Starts `gsectl serve --redis` for `spec` and waits until its /healthz answers. */
export async function startBenchReplica(spec: ReplicaSpec): Promise<BenchReplica> {
  const { hard } = openFileLimit();
  const proc = spawnNode(
    [
      GSECTL_MAIN,
      'serve',
      '--repo',
      spec.repo,
      '--listen',
      `127.0.0.1:${spec.port}`,
      '--state-dir',
      spec.stateDir,
      '--redis',
      spec.redisUrl,
      '--replica-id',
      spec.id,
      '--lease',
      `${spec.leaseMs}ms`,
      '--bootstrap-token',
      BENCH_BOOTSTRAP_TOKEN,
      '--admin-token',
      BENCH_ADMIN_TOKEN,
      '--fetch-interval-ms',
      '60000',
      '--log-level',
      LOG_DIR ? 'info' : 'error',
    ],
    { nofile: hard },
  );
  // Whole logs, for investigations (the bench keeps only the last lines of each child's stderr).
  if (LOG_DIR)
    proc.child.stderr?.on('data', (c: Buffer) => appendFileSync(join(LOG_DIR, `${spec.id}.log`), c));
  const base = `http://127.0.0.1:${spec.port}`;
  const running = () => proc.child.exitCode === null && proc.child.signalCode === null;
  const api = async <T>(path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        authorization: `Bearer ${BENCH_ADMIN_TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  const replica: BenchReplica = {
    id: spec.id,
    port: spec.port,
    agentUrl: `ws://127.0.0.1:${spec.port}/agent`,
    proc,
    running,
    api,
    async held() {
      const { body } = await api<{ hosts: { connected: number } }>('/api/v1/status');
      return body.hosts.connected;
    },
    rssMiB: () => proc.rssMiB(),
    async kill() {
      if (running()) proc.child.kill('SIGKILL');
      await proc.exited;
    },
    stop: () => proc.stop(30_000),
  };
  const up = await pollUntil(
    async () => {
      if (!running()) throw new Error(`replica ${spec.id} exited: ${proc.tail().join('\n')}`);
      return fetch(`${base}/healthz`).then(
        (r) => r.status === 200,
        () => false,
      );
    },
    START_TIMEOUT_MS,
    100,
  );
  if (!up) throw new Error(`replica ${spec.id} did not answer /healthz within ${START_TIMEOUT_MS} ms`);
  return replica;
}
