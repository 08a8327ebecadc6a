/** A GseTaskPort over plain objects for the handlers' unit tests: a memory store and a recording exec engine. */
import type { HostTask } from '../../src/controller/exec-service.js';
import { GSE_BAD_REQUEST, GseError } from '../../src/gse-task/errors.js';
import { StoredProcessOverrides } from '../../src/gse-task/overrides.js';
import type { GseHost, GseTaskPort } from '../../src/gse-task/port.js';
import type { HostManifest } from '../../src/protocol/manifest.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { ExecutionRecord } from '../../src/store/types.js';

export const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);

export interface FakePort extends GseTaskPort {
  memory: MemoryStore;
  /** Every task sent: hosts, the task, and the messages built for each host. */
  sent: Array<{ hostIds: string[]; task: HostTask; messages: unknown[] }>;
  cancelled: Array<{ taskId: string; hostIds: string[] }>;
  /** Calls in order (`override:<op>`, `send:<reason>`), to check what happens first. */
  calls: string[];
  /** Finishes a running record as the agent would. */
  finish(id: string, hostId: string, patch: Partial<ExecutionRecord>): Promise<void>;
}

/** A port over `hosts` (alive unless said), their manifests, and `sources` (dir/name -> content). */
export async function fakePort(
  hosts: GseHost[],
  manifests: Record<string, HostManifest> = {},
  sources: Record<string, string> = {},
): Promise<FakePort> {
  const memory = MemoryStore.open();
  let n = 0;
  const calls: string[] = [];
  const overrides = await StoredProcessOverrides.open(memory);
  const port: FakePort = {
    memory,
    sent: [],
    cancelled: [],
    calls,
    hosts: () => hosts,
    manifestFor: (id) => manifests[id],
    processOf: () => ({ running: true, pids: [42] }),
    exec: {
      async startOnHosts(hostIds, task) {
        calls.push(`send:${task.reason}`);
        const alive = hostIds.filter((h) => hosts.find((x) => x.hostId === h)?.alive);
        const offline = hostIds.filter((h) => !alive.includes(h));
        const row = (hostId: string): ExecutionRecord => ({
          id: task.taskId,
          hostId,
          reason: task.reason,
          command: task.command,
          status: 'running',
          exitCode: null,
          signal: null,
          stdoutTail: '',
          stderrTail: '',
          startedAt: new Date(T0).toISOString(),
          timedOut: false,
          killed: false,
        });
        await memory.putExecutions([
          ...alive.map(row),
          ...offline.map((h) => ({
            ...row(h),
            status: 'failed' as const,
            stderrTail: `host ${h} is not connected (not run)`,
          })),
        ]);
        port.sent.push({
          hostIds: [...hostIds],
          task,
          messages: alive.map((h) => task.message(h, `m-${++n}`)),
        });
        return { taskId: task.taskId, hosts: alive, offline };
      },
      cancel(taskId, hostIds) {
        port.cancelled.push({ taskId, hostIds: [...hostIds] });
        return [...hostIds];
      },
    },
    store: memory,
    overrides: {
      forHost: (id) => overrides.forHost(id),
      setAll: async (list) => {
        for (const o of list) calls.push(`override:${o.op}`);
        await overrides.setAll(list);
      },
      clear: async (id, name) => {
        calls.push('override:clear');
        await overrides.clear(id, name);
      },
    },
    async readSource(dir, name) {
      const content = sources[`${dir}/${name}`];
      if (content === undefined) throw new GseError(GSE_BAD_REQUEST, `source ${dir}/${name}: not found`);
      return Buffer.from(content);
    },
    now: () => T0,
    newId: () => `id-${++n}`,
    async finish(id, hostId, patch) {
      const rec = await memory.getExecution(id, hostId);
      if (!rec) throw new Error(`no record ${id} on ${hostId}`);
      await memory.putExecution({
        ...rec,
        status: 'succeeded',
        exitCode: 0,
        finishedAt: new Date(T0 + 1500).toISOString(),
        durationMs: 1500,
        ...patch,
      });
    },
  };
  return port;
}
