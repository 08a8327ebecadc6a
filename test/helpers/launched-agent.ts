/**
 * Agents as a host runs them for real: packages built by `gsectl artifact build`, installed with
 * `gse-agent install`, supervised by `D/launcher/bin/gse-agent launch`. Plus a small artifact server. Every
 * launcher started here leads its own process group and is killed when the test process exits.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { linkedVersion } from '../../agent/upgrade/layout.js';
import { readUpgradeRecord, type UpgradeRecord } from '../../agent/upgrade/record.js';
import { AGENT_MAIN, GSECTL_MAIN } from './agent-process.js';
import { TEST_BOOTSTRAP_TOKEN } from './controller.js';
import { testCa } from './tls.js';

const run = promisify(execFile);
const STOP_GRACE_MS = 5_000;

export interface Artifact {
  path: string;
  version: string;
  sha256: string;
}

/** `gsectl artifact build --version V --out DIR -o json`. */
export async function buildArtifact(version: string, outDir: string): Promise<Artifact> {
  const { stdout } = await run(process.execPath, [
    GSECTL_MAIN,
    'artifact',
    'build',
    '--version',
    version,
    '--out',
    outDir,
    '-o',
    'json',
  ]);
  return JSON.parse(stdout) as Artifact;
}

/**
 * A package of `version` whose agent never connects: `good`'s content with dist/agent/main.js replaced by a
 * program that only waits (the launcher's health deadline has to catch it).
 */
export async function hangingArtifact(good: Artifact, version: string, outDir: string): Promise<Artifact> {
  const stage = await mkdtemp(join(tmpdir(), 'gse-broken-'));
  try {
    await run('tar', ['-xzf', good.path, '-C', stage]);
    await writeFile(join(stage, 'dist/VERSION'), `${version}\n`);
    await writeFile(join(stage, 'dist/agent/main.js'), 'setInterval(() => {}, 60_000);\n');
    const path = join(outDir, `gse-agent-${version}.tgz`);
    await run('tar', ['-czf', path, '-C', stage, '.']);
    const sha256 = createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
    return { path, version, sha256 };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

export interface ArtifactServer {
  /** `http://127.0.0.1:PORT/<file name>`. */
  url(artifact: Artifact): string;
  /** Range headers of every request so far, by file name. */
  ranges(file: string): Array<string | undefined>;
  /** The next full request of `file` sends half the bytes, then hangs until `release()`. */
  stallOnce(file: string): void;
  release(): void;
  close(): Promise<void>;
}

/** Serves the files of `dir` over plain HTTP, with Range requests (206) as the controller's route does. */
export async function serveArtifacts(dir: string): Promise<ArtifactServer> {
  const seen = new Map<string, Array<string | undefined>>();
  const stalls = new Set<string>();
  const hung: ServerResponse[] = [];
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const file = basename(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const list = seen.get(file) ?? [];
    list.push(req.headers.range);
    seen.set(file, list);
    const st = await stat(join(dir, file)).catch(() => undefined);
    if (!st?.isFile()) {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    if (start >= st.size) {
      res.writeHead(416, { 'content-range': `bytes */${st.size}` }).end();
      return;
    }
    if (!m && stalls.delete(file)) {
      res.writeHead(200, { 'content-length': st.size });
      const half = Math.floor(st.size / 2);
      createReadStream(join(dir, file), { end: half - 1 }).pipe(res, { end: false });
      hung.push(res);
      return;
    }
    res.writeHead(m ? 206 : 200, {
      'content-length': st.size - start,
      ...(m ? { 'content-range': `bytes ${start}-${st.size - 1}/${st.size}` } : {}),
    });
    createReadStream(join(dir, file), { start }).pipe(res);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const release = () => {
    for (const res of hung.splice(0)) res.destroy();
  };
  return {
    url: (a) => `${base}/${basename(a.path)}`,
    ranges: (file) => seen.get(file) ?? [],
    stallOnce: (file) => stalls.add(file),
    release,
    close: async () => {
      release();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export interface LaunchedAgent {
  readonly name: string;
  readonly installDir: string;
  readonly root: string;
  readonly stateDir: string;
  readonly launcher: ChildProcess;
  /** What the launcher and its agents wrote to stderr. */
  stderr(): string;
  /** The agent process the launcher runs now (from launcher.json). */
  agentPid(): Promise<number | undefined>;
  record(): Promise<UpgradeRecord>;
  /** The version `current` points at. */
  currentVersion(): Promise<string | undefined>;
  /** SIGTERM to the launcher (it forwards it), SIGKILL to the group after a grace period. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  cleanup(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** `gse-agent install` of `artifact` into a new install dir, then `launch` with the agent's arguments. */
export async function installAndLaunch(opts: {
  artifact: Artifact;
  controllerUrl: string;
  name: string;
}): Promise<LaunchedAgent> {
  const base = await mkdtemp(join(tmpdir(), `gse-host-${opts.name}-`));
  const installDir = join(base, 'opt/gse-agent');
  const root = join(base, 'root');
  const stateDir = join(root, 'var/lib/gse-agent');
  await run(process.execPath, [
    AGENT_MAIN,
    'install',
    '--artifact',
    opts.artifact.path,
    '--install-dir',
    installDir,
  ]);
  const { caFile } = await testCa();
  const launcher = spawn(
    join(installDir, 'launcher/bin/gse-agent'),
    [
      'launch',
      '--install-dir',
      installDir,
      '--log-level',
      'warn',
      '--',
      '--controller',
      opts.controllerUrl,
      '--ca',
      caFile,
      '--token',
      TEST_BOOTSTRAP_TOKEN,
      '--name',
      opts.name,
      '--root',
      root,
      '--log-level',
      'warn',
    ],
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  live.add(launcher);
  let err = '';
  launcher.stderr?.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    launcher.once('exit', (code, signal) => {
      live.delete(launcher);
      resolve({ code, signal });
    });
  });
  const stop = async () => {
    if (launcher.exitCode !== null || launcher.signalCode !== null) return exited;
    launcher.kill('SIGTERM');
    const timer = setTimeout(() => killGroup(launcher, 'SIGKILL'), STOP_GRACE_MS);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    name: opts.name,
    installDir,
    root,
    stateDir,
    launcher,
    stderr: () => err,
    agentPid: async () => {
      const text = await readFile(join(installDir, 'launcher.json'), 'utf8').catch(() => '');
      return text ? (JSON.parse(text) as { agent?: number }).agent : undefined;
    },
    record: () => readUpgradeRecord(join(installDir, 'upgrade.json')),
    currentVersion: () => linkedVersion(join(installDir, 'current')),
    stop,
    async cleanup() {
      await stop();
      killGroup(launcher, 'SIGKILL');
      await rm(base, { recursive: true, force: true });
    },
  };
}
