/** Starts a real controller in-process on a real git repo (port 0), for integration and e2e tests. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createControllerApi } from '../../src/api/routes.js';
import { Controller } from '../../src/controller/controller.js';
import { jsonLogger } from '../../src/controller/logger.js';
import { type ControllerOptions, compileControllerOptions } from '../../src/controller/options.js';

export const TEST_BOOTSTRAP_TOKEN = 'test-bootstrap-token-0123456789';
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface RunningController {
  controller: Controller;
  url: string;
  agentUrl: string;
  stateDir: string;
  /** The CA (PEM) that signed the controller's certificate when it serves TLS; undefined on plain HTTP. */
  ca: string | undefined;
  /** Options for a raw `new WebSocket(agentUrl, wsOptions())` (the CA when TLS is on). */
  wsOptions(): { ca?: string };
  /** GET/POST the API as admin. */
  api<T = unknown>(
    path: string,
    init?: { method?: string; body?: unknown; token?: string },
  ): Promise<{ status: number; body: T }>;
  /** Stops the controller (the state dir stays, so a new one can resume from it). */
  stop(): Promise<void>;
  cleanup(): Promise<void>;
}

/** A controller following `repo` (a local path), listening on 127.0.0.1 on a free port. */
export async function startController(
  repo: string,
  overrides: ControllerOptions = {},
  stateDir?: string,
): Promise<RunningController> {
  const dir = stateDir ?? (await mkdtemp(join(tmpdir(), 'gse-ctl-')));
  const options = compileControllerOptions(
    {
      repo,
      listen: '127.0.0.1:0',
      stateDir: dir,
      bootstrapToken: TEST_BOOTSTRAP_TOKEN,
      adminToken: TEST_ADMIN_TOKEN,
      fetchIntervalMs: 60_000,
      resyncIntervalMs: 500,
      heartbeatMs: 1_000,
      ...overrides,
    },
    {},
  );
  const logger = jsonLogger(process.env.GSE_TEST_LOG ? 'debug' : 'error');
  const controller = await Controller.create(options, { logger, api: createControllerApi });
  const addr = await controller.start();
  const url = `http://127.0.0.1:${addr.port}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await controller.stop();
  };
  return {
    controller,
    url,
    agentUrl: `ws://127.0.0.1:${addr.port}/agent`,
    stateDir: dir,
    ca: undefined,
    wsOptions: () => ({}),
    async api<T>(path: string, init: { method?: string; body?: unknown; token?: string } = {}) {
      const res = await fetch(`${url}${path}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: {
          authorization: `Bearer ${init.token ?? TEST_ADMIN_TOKEN}`,
          'content-type': 'application/json',
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
    },
    stop,
    cleanup: async () => {
      await stop();
      if (!stateDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
