/** A real controller in this process on a local git repo (like test/helpers/controller.ts, which bench/ cannot import). */
import { performance } from 'node:perf_hooks';
import { createControllerApi } from '../../src/api/routes.js';
import { Controller } from '../../src/controller/controller.js';
import { jsonLogger } from '../../src/controller/logger.js';
import { type ControllerOptions, compileControllerOptions } from '../../src/controller/options.js';
import type { Revision } from '../../src/spec/types.js';
import { BENCH_ADMIN_TOKEN, BENCH_BOOTSTRAP_TOKEN, pollUntil } from './util.js';

export interface BenchController {
  controller: Controller;
  /** http://127.0.0.1:PORT */
  url: string;
  /** ws://127.0.0.1:PORT/agent */
  agentUrl: string;
  /** performance.now() at which `reconciler.setRevision` was last entered, by revision id. */
  setRevisionAt: Map<string, number>;
  /** performance.now() at which `reconciler.setRevision` resolved (planned, sent, persisted), by revision id. */
  setRevisionDoneAt: Map<string, number>;
  /** Manifest messages handed to `hub.send`, and performance.now() of the last one. */
  manifestSends: { count: number; lastAt: number };
  /** Hosts whose in-memory sync state is Synced (all on `sha` when given). */
  syncedCount(sha?: string): number;
  /** Resolves true once `count` hosts are Synced on `sha` (polling every `everyMs`), false on timeout. */
  waitSynced(sha: string, count: number, timeoutMs: number, everyMs?: number): Promise<boolean>;
  /** POST /api/v1/hooks/git (plain provider, no secret configured); resolves when the controller answered. */
  webhook(): Promise<{ status: number; body: unknown }>;
  stop(): Promise<void>;
}

/** Starts a controller on 127.0.0.1:0 following `repo` (a local path); the store is SQLite in `stateDir`. */
export async function startBenchController(
  repo: string,
  stateDir: string,
  overrides: ControllerOptions = {},
): Promise<BenchController> {
  const options = compileControllerOptions(
    {
      repo,
      listen: '127.0.0.1:0',
      stateDir,
      bootstrapToken: BENCH_BOOTSTRAP_TOKEN,
      adminToken: BENCH_ADMIN_TOKEN,
      fetchIntervalMs: 60_000,
      resyncIntervalMs: 5_000,
      ...overrides,
    },
    {},
  );
  const logger = jsonLogger((process.env.GSE_BENCH_LOG as 'debug' | 'info' | 'warn' | 'error') ?? 'error');
  const controller = await Controller.create(options, { logger, api: createControllerApi });

  // Instrument: when does an accepted revision reach the reconciler (before it plans and sends)?
  const setRevisionAt = new Map<string, number>();
  const setRevisionDoneAt = new Map<string, number>();
  const reconciler = controller.reconciler;
  const original = reconciler.setRevision.bind(reconciler);
  reconciler.setRevision = async (revision: Revision) => {
    setRevisionAt.set(revision.id, performance.now());
    await original(revision);
    setRevisionDoneAt.set(revision.id, performance.now());
  };

  // ...and when has the hub been handed the last manifest (the reconciler sends through `controller.hub`)?
  const manifestSends = { count: 0, lastAt: 0 };
  const hub = controller.hub;
  const send = hub.send.bind(hub);
  hub.send = (agentId, msg) => {
    if (msg.type === 'manifest') {
      manifestSends.count++;
      manifestSends.lastAt = performance.now();
    }
    return send(agentId, msg);
  };

  const addr = await controller.start();
  const url = `http://127.0.0.1:${addr.port}`;

  const syncedCount = (sha?: string): number => {
    if (sha !== undefined && reconciler.current?.id !== sha) return 0;
    let n = 0;
    for (const h of reconciler.hostStates()) if (h.syncState === 'Synced') n++;
    return n;
  };

  let stopped = false;
  return {
    controller,
    url,
    agentUrl: `ws://127.0.0.1:${addr.port}/agent`,
    setRevisionAt,
    setRevisionDoneAt,
    manifestSends,
    syncedCount,
    waitSynced: (sha, count, timeoutMs, everyMs = 2) =>
      pollUntil(() => syncedCount(sha) >= count, timeoutMs, everyMs),
    async webhook() {
      const res = await fetch(`${url}/api/v1/hooks/git`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ref: `refs/heads/${options.branch}` }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await controller.stop();
    },
  };
}
