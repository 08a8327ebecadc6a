/**
 * Controller replicas as real child processes (`gsectl serve --redis URL --replica-id ID`) on one Redis and
 * one git repo, each with its own state dir and port, serving TLS from the shared test CA; without a
 * `redisUrl`, a lone controller (SQLite store) the same way. For e2e tests that SIGKILL, SIGSTOP and SIGCONT
 * them. Needs `npm run build` (dist/).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { GSECTL_MAIN } from './agent-process.js';
import { httpCall, TEST_ADMIN_TOKEN, TEST_BOOTSTRAP_TOKEN, waitFor } from './controller.js';
import { freePort } from './redis-server.js';
import { testCa } from './tls.js';

export interface ReplicaProcess {
  readonly id: string;
  readonly port: number;
  /** wss://127.0.0.1:PORT/agent */
  readonly agentUrl: string;
  readonly child: ChildProcess;
  /** Everything it wrote to stderr (JSON log lines). */
  stderr(): string;
  running(): boolean;
  /** GET (or POST with a body) the API as admin; the body parsed as JSON when it is JSON. */
  api<T = unknown>(path: string, body?: unknown): Promise<{ status: number; body: T; text: string }>;
  /** Sends a signal; for SIGKILL/SIGTERM waits for the exit. */
  signal(sig: NodeJS.Signals): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** Starts replica `id` and waits until its API answers. */
export async function startReplica(opts: {
  id: string;
  /** Without it: a lone controller on its SQLite store (`--replica-id` and `--lease` are then not given). */
  redisUrl?: string;
  repo: string;
  work: string;
  leaseMs: number;
  port?: number;
}): Promise<ReplicaProcess> {
  const ca = await testCa();
  const port = opts.port ?? (await freePort());
  const child = spawn(
    process.execPath,
    [
      GSECTL_MAIN,
      'serve',
      '--repo',
      opts.repo,
      '--listen',
      `127.0.0.1:${port}`,
      '--state-dir',
      join(opts.work, opts.id),
      ...(opts.redisUrl
        ? ['--redis', opts.redisUrl, '--replica-id', opts.id, '--lease', `${opts.leaseMs}ms`]
        : []),
      '--bootstrap-token',
      TEST_BOOTSTRAP_TOKEN,
      '--admin-token',
      TEST_ADMIN_TOKEN,
      '--tls-cert',
      ca.certFile,
      '--tls-key',
      ca.keyFile,
      '--fetch-interval-ms',
      '60000',
      '--log-level',
      'info',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  live.add(child);
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    err = (err + b.toString()).slice(-400_000);
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child);
      resolve();
    }),
  );
  const running = () => child.exitCode === null && child.signalCode === null;
  const api = async <T>(path: string, body?: unknown) => {
    const res = await httpCall(`https://127.0.0.1:${port}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      ca: ca.caPem,
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed as T, text: res.text };
  };
  const replica: ReplicaProcess = {
    id: opts.id,
    port,
    agentUrl: `wss://127.0.0.1:${port}/agent`,
    child,
    stderr: () => err,
    running,
    api,
    async signal(sig) {
      if (!running()) return;
      child.kill(sig);
      if (sig === 'SIGKILL' || sig === 'SIGTERM') await exited;
    },
  };
  await waitFor(
    `replica ${opts.id} serving`,
    async () => {
      if (!running()) throw new Error(`replica ${opts.id} exited: ${err.slice(-2000)}`);
      return (await api('/healthz')).status === 200;
    },
    30_000,
  );
  return replica;
}

/** Reads the cluster's shared keys (default prefix) with a short-lived client. */
export async function clusterState(redisUrl: string): Promise<{
  leader: string | undefined;
  token: number | undefined;
  revision: string | undefined;
}> {
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    await client.connect();
    const [lease, head] = await Promise.all([
      client.get('gse:cluster:lease'),
      client.getrange('gse:cluster:revision', 0, 199),
    ]);
    const m = /^(\d+):(.*)$/.exec(lease ?? '');
    return {
      token: m ? Number(m[1]) : undefined,
      leader: m?.[2],
      revision: /"id":"([^"]+)"/.exec(head)?.[1],
    };
  } finally {
    client.disconnect();
  }
}

/** How many hosts each replica holds, from the session directory (default prefix; expired entries too). */
export async function sessionsByReplica(redisUrl: string): Promise<Record<string, number>> {
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    await client.connect();
    const holders = await client.hgetall('gse:cluster:holders');
    const out: Record<string, number> = {};
    for (const replica of Object.values(holders)) out[replica] = (out[replica] ?? 0) + 1;
    return out;
  } finally {
    client.disconnect();
  }
}

export { TEST_BOOTSTRAP_TOKEN };
