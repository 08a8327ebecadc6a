/**
 * Starts a real controller in-process on a real git repo (port 0), for integration and e2e tests. It serves
 * HTTPS/WSS from the test process's CA (test/helpers/tls.ts) unless a test asks for plain HTTP.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createControllerApi } from '../../src/api/routes.js';
import { Controller } from '../../src/controller/controller.js';
import { jsonLogger } from '../../src/controller/logger.js';
import { type ControllerOptions, compileControllerOptions } from '../../src/controller/options.js';
import { testCa } from './tls.js';

export const TEST_BOOTSTRAP_TOKEN = 'test-bootstrap-token-0123456789';
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

export interface RequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** PEM CA trusted for https:// (default: the system roots, i.e. a private CA is not trusted). */
  ca?: string;
}

/** One HTTP(S) request on node:http/https (fetch cannot take a CA); rejects on transport errors. */
export function httpCall(url: string, init: RequestInit = {}): Promise<HttpResult> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      u,
      {
        method: init.method ?? 'GET',
        headers: init.headers,
        ...(u.protocol === 'https:' && init.ca ? { ca: init.ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

/** startController's overrides: controller options, plus `plainHttp` to serve without TLS. */
export interface TestControllerOverrides extends ControllerOptions {
  /** Serve plain HTTP/ws instead of the default HTTPS/WSS. */
  plainHttp?: boolean;
  /** The environment the options are compiled with (GSE_*, --callback-secret-env's variable); default none. */
  env?: NodeJS.ProcessEnv;
}

export interface RunningController {
  controller: Controller;
  /** https://127.0.0.1:PORT (http:// with plainHttp). */
  url: string;
  /** wss://127.0.0.1:PORT/agent (ws:// with plainHttp). */
  agentUrl: string;
  stateDir: string;
  /** The CA (PEM) that signed the controller's certificate when it serves TLS; undefined on plain HTTP. */
  ca: string | undefined;
  /** The CA file (what `--ca` / GSE_CA take); undefined on plain HTTP. */
  caFile: string | undefined;
  /** Any path on the controller (text body), trusting its CA; `token` adds a bearer header. */
  request(path: string, init?: { method?: string; body?: string; token?: string }): Promise<HttpResult>;
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
  overrides: TestControllerOverrides = {},
  stateDir?: string,
): Promise<RunningController> {
  const dir = stateDir ?? (await mkdtemp(join(tmpdir(), 'gse-ctl-')));
  const { plainHttp, env, ...controllerOverrides } = overrides;
  const ownCert = controllerOverrides.tlsCert !== undefined;
  const ca = plainHttp || ownCert ? undefined : await testCa();
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
      ...(ca ? { tlsCert: ca.certFile, tlsKey: ca.keyFile } : {}),
      ...controllerOverrides,
    },
    env ?? {},
  );
  const logger = jsonLogger(process.env.GSE_TEST_LOG ? 'debug' : 'error');
  const controller = await Controller.create(options, { logger, api: createControllerApi });
  const addr = await controller.start();
  const tls = options.tls !== undefined;
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${addr.port}`;
  const request = (path: string, init: { method?: string; body?: string; token?: string } = {}) =>
    httpCall(`${url}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: init.body,
      ca: ca?.caPem,
    });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await controller.stop();
  };
  return {
    controller,
    url,
    agentUrl: `${tls ? 'wss' : 'ws'}://127.0.0.1:${addr.port}/agent`,
    stateDir: dir,
    ca: ca?.caPem,
    caFile: ca?.caFile,
    wsOptions: () => (ca ? { ca: ca.caPem } : {}),
    request,
    async api<T>(path: string, init: { method?: string; body?: unknown; token?: string } = {}) {
      const res = await request(path, {
        method: init.method,
        token: init.token ?? TEST_ADMIN_TOKEN,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      return { status: res.status, body: (res.text ? JSON.parse(res.text) : undefined) as T };
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
