/**
 * GSE `cluster/list_agent_state` follows the version an agent runs: a real agent unpacked from a built
 * artifact (`gsectl artifact build --version 1.0.0`) reports 1.0.0; the same host (same root and state dir)
 * started from a 2.0.0 artifact reconnects and reports 2.0.0. Needs `npm run build` (pretest does it).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATUS_RUNNING } from '../../src/api/gse/status.js';
import { GSECTL_MAIN } from '../helpers/agent-process.js';
import {
  type RunningController,
  startController,
  TEST_BOOTSTRAP_TOKEN,
  waitFor,
} from '../helpers/controller.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const run = promisify(execFile);
const IP = '10.77.0.1';
const AGENT_ID = `0:${IP}`;
/** How long a SIGTERM'd agent gets before SIGKILL. */
const STOP_GRACE_MS = 5_000;
/** Each wait for the controller to see a change: generous, for a loaded 2-core machine. */
const WAIT_MS = 30_000;
/** The test waits up to three times, after two artifact builds. */
const TEST_TIMEOUT_MS = 150_000;

const MOTD = `apiVersion: gse/v1
kind: ConfigFile
metadata: { name: motd }
spec:
  hosts: { names: ["*"] }
  path: /etc/motd
  content: "hello"
`;

interface AgentState {
  bk_agent_id: string;
  version: string;
  status_code: number;
}

describe('GSE list_agent_state and the running agent version', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let work: string;
  const children = new Set<ChildProcess>();

  /** Builds gse-agent-<version>.tgz and unpacks it; the path of its agent entry. */
  async function unpackedAgent(version: string): Promise<string> {
    const out = join(work, 'artifacts');
    const { stdout } = await run(process.execPath, [
      GSECTL_MAIN,
      'artifact',
      'build',
      '--version',
      version,
      '--out',
      out,
      '-o',
      'json',
    ]);
    const { path } = JSON.parse(stdout) as { path: string };
    const dir = join(work, `v${version}`);
    await mkdir(dir, { recursive: true });
    await run('tar', ['-xzf', path, '-C', dir]);
    return join(dir, 'dist/agent/main.js');
  }

  /** Starts the agent at `main` as host IP with the shared root and state dir. */
  function startAgent(main: string): ChildProcess {
    const root = join(work, 'root');
    const child = spawn(
      process.execPath,
      [
        main,
        '--controller',
        ctl.agentUrl,
        '--token',
        TEST_BOOTSTRAP_TOKEN,
        '--name',
        'versioned',
        '--ip',
        IP,
        '--root',
        root,
        '--state-dir',
        join(root, 'var/lib/gse-agent'),
        '--ca',
        ctl.caFile as string,
        '--log-level',
        'warn',
      ],
      { stdio: 'ignore' },
    );
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  }

  async function stopAgent(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  async function stateOf(): Promise<AgentState | undefined> {
    const res = await ctl.api<{ result: boolean; data: AgentState[] }>('/api/v1/gse/list_agent_state', {
      body: { agent_id_list: [AGENT_ID] },
    });
    expect(res.body.result).toBe(true);
    return res.body.data[0];
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'gse-agent-version-'));
    repo = await gitRepo({ 'fleet/motd.yaml': MOTD });
    ctl = await startController(repo.dir, { path: 'fleet' });
  });
  afterAll(async () => {
    await Promise.all([...children].map(stopAgent));
    await ctl?.cleanup();
    await repo?.cleanup();
    await rm(work, { recursive: true, force: true });
  });

  it(
    'reports the version the connected agent runs, and the new one after it reconnects upgraded',
    async () => {
      const [v1, v2] = [await unpackedAgent('1.0.0'), await unpackedAgent('2.0.0')];

      const first = startAgent(v1);
      const running1 = await waitFor(
        'the agent reported as running 1.0.0',
        async () => {
          const s = await stateOf();
          return s?.status_code === STATUS_RUNNING && s.version === '1.0.0' ? s : undefined;
        },
        WAIT_MS,
      );
      expect(running1.bk_agent_id).toBe(AGENT_ID);

      await stopAgent(first);
      await waitFor(
        'the stopped agent no longer reported as running',
        async () => {
          const s = await stateOf();
          return s !== undefined && s.status_code !== STATUS_RUNNING;
        },
        WAIT_MS,
      );

      startAgent(v2);
      const running2 = await waitFor(
        'the same host reported as running 2.0.0',
        async () => {
          const s = await stateOf();
          return s?.status_code === STATUS_RUNNING && s.version === '2.0.0' ? s : undefined;
        },
        WAIT_MS,
      );
      expect(running2.bk_agent_id).toBe(AGENT_ID);
    },
    TEST_TIMEOUT_MS,
  );
});
