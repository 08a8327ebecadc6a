/**
 * SIGKILL a lone controller (SQLite store, no Redis) at random points right after a commit and an exec,
 * round after round: a real `gsectl serve` process, restarted on the same port and state dir, a real git repo
 * and real agent processes. Each round commits new content for every file, asks the controller to fetch
 * (webhook), starts an exec on every host (not waited for), waits a random 0-400 ms (0-25 ms every other
 * round) and kills it. What must hold after each restart:
 *  - every host is back, connected and Synced on the round's commit, and its files hold that content;
 *  - each host's exec (one request per host, sent together) ran at most once (its script appends a line
 *    under the agent's --root); when the API had answered it (so the caller was told it runs), it ran exactly
 *    once and the host's execution record is final (`succeeded`), not left `running`;
 *  - an exec the kill cut off before the API answered left no record stuck `running` (it may have run and
 *    been recorded: the caller then finds it in the executions).
 * Random points, since the windows that lose something are narrow; the delays are printed with the outcome.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/controller.js';
import { configFileYaml, type ExecutionRow, type HostRow } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { freePort } from '../helpers/redis-server.js';
import { type ReplicaProcess, startReplica } from '../helpers/replicas.js';

const AGENTS = ['k-1', 'k-2', 'k-3'];
const FILES = 30;
const ROUNDS = 8;
/** The kill lands this long (at most, random below it) after the exec request went out. */
const MAX_KILL_DELAY_MS = 400;
/** The bound of the early kills (every other round): within the exec requests' handling. */
const EARLY_KILL_MS = 25;
/** Bound for a restarted controller to have every host back and Synced; a bound, not a speed check. */
const RECOVERY_MS = 60_000;
const TEST_TIMEOUT_MS = 300_000;
/** Under each agent's --root: one line per run of a round's exec. */
const RUNS_FILE = '/exec-runs';

const path = (i: number) => `/etc/kill/f-${i}.conf`;
const content = (round: number, i: number) => `round ${round} file ${i}\n`;
function tree(round: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 1; i <= FILES; i++)
    files[`f-${i}.yaml`] = configFileYaml({ name: `f-${i}`, path: path(i), content: content(round, i) });
  return files;
}

describe('a lone controller SIGKILLed at random points after a commit and an exec', () => {
  let repo: GitRepo;
  let work: string;
  let port: number;
  let ctl: ReplicaProcess | undefined;
  const agents: AgentProcess[] = [];

  const startCtl = async () => {
    ctl = await startReplica({ id: 'lone', repo: repo.dir, work, leaseMs: 0, port });
    return ctl;
  };
  const hosts = async (c: ReplicaProcess) =>
    (await c.api<{ items: HostRow[] }>('/api/v1/hosts?limit=1000')).body.items;
  const executions = async (c: ReplicaProcess) =>
    (await c.api<{ items: ExecutionRow[] }>('/api/v1/executions?limit=1000')).body.items;
  const runsOf = async (a: AgentProcess, round: number) =>
    (await readFile(a.path(RUNS_FILE), 'utf8').catch(() => ''))
      .split('\n')
      .filter((l) => l === `round ${round}`).length;

  async function allSynced(c: ReplicaProcess, sha: string): Promise<void> {
    let last: HostRow[] = [];
    await waitFor(
      `every host Synced on ${sha.slice(0, 12)}`,
      async () => {
        last = await hosts(c);
        return (
          AGENTS.every((id) => last.some((h) => h.hostId === id)) &&
          last.every((h) => h.connected && h.syncState === 'Synced' && h.revision === sha)
        );
      },
      RECOVERY_MS,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; hosts: ${JSON.stringify(last)}`);
    });
  }

  beforeAll(async () => {
    repo = await gitRepo(tree(0));
    work = await mkdtemp(join(tmpdir(), 'gse-controller-kill-'));
    port = await freePort();
    const c = await startCtl();
    for (const name of AGENTS) agents.push(await startAgentProcess({ controllerUrl: c.agentUrl, name }));
    await allSynced(c, await repo.head());
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    for (const a of agents) await a.cleanup();
    await ctl?.signal('SIGKILL');
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  }, TEST_TIMEOUT_MS);

  it(
    'comes back with every host Synced on the commit and every exec it answered run once and recorded',
    async () => {
      for (let round = 1; round <= ROUNDS; round++) {
        const before = ctl as ReplicaProcess;
        const sha = await repo.commit(tree(round), `round ${round}`);
        await before.api('/api/v1/hooks/git', {});
        const execs = agents.map((a) =>
          before
            .api<{ taskId: string }>('/api/v1/exec', {
              hosts: `name=${a.name}`,
              script: `sleep 0.1; echo "round ${round}" >> ${a.path(RUNS_FILE)}`,
              wait: false,
            })
            .then((res) => (res.status === 200 ? res.body.taskId : undefined))
            .catch(() => undefined),
        );
        // Half the rounds kill within EARLY_KILL_MS, before the API could answer the execs, most likely.
        const delay = Math.floor(Math.random() * (round % 2 === 0 ? EARLY_KILL_MS : MAX_KILL_DELAY_MS));
        await new Promise((r) => setTimeout(r, delay));
        await before.signal('SIGKILL');
        const taskIds = await Promise.all(execs);
        const after = await startCtl();
        await allSynced(after, sha);
        for (const a of agents)
          for (let i = 1; i <= FILES; i++)
            expect(await a.read(path(i)), `${a.name} ${path(i)}`).toBe(content(round, i));

        const records = await waitFor(
          `round ${round}'s executions final`,
          async () => {
            const mine = (await executions(after)).filter((e) => e.command.includes(`"round ${round}"`));
            return mine.every((e) => e.status !== 'running') ? mine : undefined;
          },
          RECOVERY_MS,
        );
        const runs = await Promise.all(agents.map((a) => runsOf(a, round)));
        console.log(
          JSON.stringify({
            round,
            killDelayMs: delay,
            execsAnswered: taskIds.filter(Boolean).length,
            records: records.length,
            runs,
          }),
        );
        agents.forEach((a, i) => {
          const taskId = taskIds[i];
          expect(runs[i], `${a.name} runs of round ${round}`).toBeLessThanOrEqual(1);
          if (taskId === undefined) return;
          // The caller was told it runs: it ran once, and the host's record says it succeeded.
          expect(runs[i], `${a.name} runs of round ${round}`).toBe(1);
          expect(records.filter((e) => e.id === taskId).map((e) => [e.hostId, e.status])).toEqual([
            [a.name, 'succeeded'],
          ]);
        });
      }
    },
    TEST_TIMEOUT_MS,
  );
});
