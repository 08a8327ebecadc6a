/**
 * Runs a real agent (`node dist/agent/main.js`) as a child process with its own `--root` sandbox, for e2e
 * tests. Every agent started here is tracked and killed when the test process exits, so none outlives it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_BOOTSTRAP_TOKEN } from './controller.js';
import { testCa } from './tls.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const AGENT_MAIN = join(REPO_ROOT, 'dist/agent/main.js');
export const GSECTL_MAIN = join(REPO_ROOT, 'dist/src/cli/main.js');
/** How long a SIGTERM'd agent gets to exit before it is SIGKILLed. */
const STOP_GRACE_MS = 5_000;

export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface AgentProcessOptions {
  controllerUrl: string;
  name: string;
  /** Default TEST_BOOTSTRAP_TOKEN. */
  token?: string;
  /** Default a new temp dir. */
  root?: string;
  /** Default the agent's own default, `<root>/var/lib/gse-agent`. */
  stateDir?: string;
  ip?: string;
  labels?: string;
  /** Default 'warn'. */
  logLevel?: string;
  /** `--ca FILE` for a wss:// controller. Default the shared test CA (test/helpers/tls.ts); `false`: none. */
  ca?: string | false;
  /** `--insecure`. Default true for a ws:// controller URL (a test that uses ws:// on purpose), else false. */
  insecure?: boolean;
}

export interface AgentProcess {
  readonly name: string;
  readonly root: string;
  readonly stateDir: string;
  /** The current child process. */
  readonly child: ChildProcess;
  /** Everything the current child wrote to stderr so far. */
  stderr(): string;
  /** Resolves when the current child exits. */
  exited(): Promise<AgentExit>;
  /** A path under the agent's root (`/etc/x` -> `<root>/etc/x`). */
  path(managed: string): string;
  /** Reads a managed file's content. */
  read(managed: string): Promise<string>;
  /** A managed file's permission bits, or undefined when it is absent. */
  mode(managed: string): Promise<number | undefined>;
  /** SIGTERM, then SIGKILL after a grace period; resolves once it exited. */
  stop(): Promise<AgentExit>;
  /** Sends `signal` (default SIGKILL) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<AgentExit>;
  /** Starts it again with the same name, root and state dir (optionally against another controller). */
  restart(controllerUrl?: string): Promise<void>;
  /** Stops it and removes its root (unless the root was given). */
  cleanup(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) killChild(child, 'SIGKILL');
});

function killChild(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // The agent leads its own process group (detached): signal the group so nothing it started lingers.
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** Spawns `node dist/agent/main.js` for `options.name` with a sandboxed root. */
export async function startAgentProcess(options: AgentProcessOptions): Promise<AgentProcess> {
  const root = options.root ?? (await mkdtemp(join(tmpdir(), `gse-agent-${options.name}-`)));
  const stateDir = options.stateDir ?? join(root, 'var/lib/gse-agent');
  let controllerUrl = options.controllerUrl;
  let child!: ChildProcess;
  let exit!: Promise<AgentExit>;
  let err = '';
  const defaultCa = (await testCa()).caFile;

  const launch = () => {
    const tls = /^(wss|https):/.test(controllerUrl);
    const ca = options.ca === undefined ? (tls ? defaultCa : undefined) : options.ca || undefined;
    const insecure = options.insecure ?? /^(ws|http):/.test(controllerUrl);
    const args = [
      AGENT_MAIN,
      '--controller',
      controllerUrl,
      '--token',
      options.token ?? TEST_BOOTSTRAP_TOKEN,
      '--name',
      options.name,
      '--root',
      root,
      '--state-dir',
      stateDir,
      '--log-level',
      options.logLevel ?? 'warn',
    ];
    if (options.ip) args.push('--ip', options.ip);
    if (options.labels) args.push('--labels', options.labels);
    if (ca) args.push('--ca', ca);
    if (insecure) args.push('--insecure');
    err = '';
    child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    live.add(child);
    const c = child;
    c.stderr?.on('data', (b: Buffer) => {
      err += b.toString();
    });
    exit = new Promise<AgentExit>((res) => {
      c.once('exit', (code, signal) => {
        live.delete(c);
        res({ code, signal });
      });
    });
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    killChild(child, signal);
    return exit;
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return exit;
    killChild(child, 'SIGTERM');
    const timer = setTimeout(() => killChild(child, 'SIGKILL'), STOP_GRACE_MS);
    try {
      return await exit;
    } finally {
      clearTimeout(timer);
    }
  };

  launch();
  return {
    name: options.name,
    root,
    stateDir,
    get child() {
      return child;
    },
    stderr: () => err,
    exited: () => exit,
    path: (managed) => join(root, managed),
    read: (managed) => readFile(join(root, managed), 'utf8'),
    mode: async (managed) => {
      const st = await stat(join(root, managed)).catch(() => undefined);
      return st ? st.mode & 0o7777 : undefined;
    },
    stop,
    kill,
    async restart(url) {
      await stop();
      if (url) controllerUrl = url;
      launch();
    },
    async cleanup() {
      await stop();
      if (!options.root) await rm(root, { recursive: true, force: true });
    },
  };
}

/** True when a process with `pid` exists (signal 0 probe). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs `gse-agent push` with `lines` on stdin into the agent of `stateDir`; its exit code and stderr. */
export async function pushRecords(
  stateDir: string,
  lines: readonly string[],
  channel: string,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [AGENT_MAIN, 'push', '--state-dir', stateDir, '--channel', channel], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  child.stdin?.end(`${lines.join('\n')}\n`);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stderr };
}
