/**
 * Faults on the wire between a real agent process and a real controller: a TCP proxy in between resets the
 * connection, refuses reconnects for a while, holds traffic, and delays every chunk, each while an exec's
 * result is on its way. What must hold: every exec the controller sent runs once on the host and has one
 * final, succeeded record (none lost, none doubled), and the agent is Connected again within RECOVERY_MS
 * of the fault being lifted.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { configFileYaml, duplicates, listExecutions, listHosts, waitSynced } from '../helpers/e2e-fleet.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const HOST = 'wire-1';
/** After a fault is lifted the agent must be Connected again within this (backoff tops out well below). */
const RECOVERY_MS = 20_000;
/** How long a drop refuses reconnects, and a pause holds traffic. */
const OUTAGE_MS = 3_000;

describe('faults on the agent link', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let proxy: TcpProxy;
  let agent: AgentProcess;

  const connected = async (): Promise<boolean> =>
    (await listHosts(ctl)).some((h) => h.hostId === HOST && h.connected);

  beforeAll(async () => {
    repo = await gitRepo({
      'fleet/motd.yaml': configFileYaml({ name: 'motd', path: '/etc/motd', content: 'managed\n' }),
    });
    ctl = await startController(repo.dir, { path: 'fleet' });
    const port = Number(new URL(ctl.agentUrl).port);
    proxy = await startTcpProxy(port);
    agent = await startAgentProcess({
      name: HOST,
      controllerUrl: `wss://127.0.0.1:${proxy.port}/agent`,
      logLevel: 'info',
    });
    await waitSynced(ctl, [HOST], await repo.head());
  });

  afterAll(async () => {
    await agent?.stop();
    await proxy?.close();
    await ctl?.cleanup();
    await repo?.cleanup();
  });

  /** Starts an exec that logs its marker, sleeps, then prints it; resolves once the host has started it. */
  const startExec = async (marker: string): Promise<string> => {
    const log = join(agent.root, 'exec.log');
    // Right after a reconnect the host may not be in the exec path's view yet: it is then named offline
    // (not run), which is an answer, not a loss; ask again until it is sent.
    const taskId = await waitFor(
      `exec ${marker} sent to ${HOST}`,
      async () => {
        const res = await ctl.api<{ taskId: string; hosts: string[] }>('/api/v1/exec', {
          body: {
            hosts: `name=${HOST}`,
            script: `echo ${marker} >> ${log}; sleep 1; echo ${marker}`,
            wait: false,
          },
        });
        expect(res.status).toBe(200);
        return res.body.hosts.includes(HOST) ? res.body.taskId : undefined;
      },
      RECOVERY_MS,
    );
    await waitFor(
      `exec ${marker} started on the host`,
      async () => (await markers()).includes(marker),
      30_000,
    );
    return taskId;
  };
  const markers = async (): Promise<string[]> =>
    (await readFile(join(agent.root, 'exec.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);

  const faults: Array<{ name: string; during(): Promise<void> }> = [
    {
      name: 'connection reset',
      during: async () => proxy.cut(),
    },
    {
      name: 'reconnects refused for a while',
      during: async () => {
        proxy.drop();
        await new Promise((r) => setTimeout(r, OUTAGE_MS));
        proxy.allow();
      },
    },
    {
      name: 'traffic held, then released',
      during: async () => {
        proxy.pause();
        await new Promise((r) => setTimeout(r, OUTAGE_MS));
        proxy.resume();
      },
    },
    {
      name: 'every chunk delayed by 300 ms',
      during: async () => {
        proxy.setDelay(300);
        await new Promise((r) => setTimeout(r, OUTAGE_MS));
        proxy.setDelay(0);
      },
    },
  ];

  it('loses and doubles no exec result across resets, refusals, stalls and delays, and recovers each time', async () => {
    const sent: Array<{ marker: string; taskId: string }> = [];
    for (const [k, fault] of faults.entries()) {
      // Twice per fault: the second round hits a link that has just recovered.
      for (const round of [1, 2]) {
        const marker = `fault-${k}-${round}`;
        const taskId = await startExec(marker);
        sent.push({ marker, taskId });
        await fault.during();
        await waitFor(`${HOST} connected again after "${fault.name}"`, connected, RECOVERY_MS);
      }
    }
    // Every result reaches the controller once the link is back.
    const rows = await waitFor(
      'every exec recorded as finished',
      async () => {
        const all = (await listExecutions(ctl, HOST)).filter((e) => sent.some((s) => s.taskId === e.id));
        return all.length >= sent.length && all.every((e) => e.status !== 'running') ? all : undefined;
      },
      60_000,
    );
    expect(duplicates(rows)).toEqual([]);
    expect(rows.map((r) => r.id).sort()).toEqual(sent.map((s) => s.taskId).sort());
    for (const s of sent) {
      const row = rows.find((r) => r.id === s.taskId);
      expect(row, s.marker).toMatchObject({ status: 'succeeded', exitCode: 0 });
      expect(row?.stdoutTail.trim()).toBe(s.marker);
    }
    // Each script ran once on the host: a re-sent task is acked from the ledger, not run again.
    expect((await markers()).sort()).toEqual(sent.map((s) => s.marker).sort());
    // The agent logged its reconnects as one info line each, not stack traces.
    expect(agent.stderr()).toContain('reconnecting to the controller');
    expect(agent.stderr()).not.toMatch(/\n\s+at /);
    expect(proxy.accepted).toBeGreaterThan(2);
  });
});
