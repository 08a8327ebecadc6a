/**
 * `npm run bench -- remediation [--kills 15] [--storm 10000] [--rounds 3] [--probe-ms 250]` (`--kills 0`: the storm only)
 *
 * Three figures of the remediation path, each printed beside its goal:
 * 1. process death to restart: a real controller (in this process) and a real agent (child process); a
 *    ProcessWatch (`ensure: observed`, probe every `--probe-ms`) watches a dummy `sleep`, and a Remediation on
 *    its `process.down` (cooldown 0) starts it again. The bench SIGKILLs the sleep `--kills` times and times
 *    kill -> the new sleep running (the script writes its pid; the bench polls it every 2 ms). Goal: median
 *    under 500 ms with a 250 ms probe.
 * 2. decisions per second of the agent's remediation engine (RemediationRunner, the real code) under a storm
 *    of `--storm` events, in this process: budgets in a real RemediationBudgets file (atomic, fsynced, as in
 *    production), then again with every decision's result also spooled to a real Outbox, as the agent does;
 *    the median of `--rounds` rounds each, in wall time and per CPU second (this process's own CPU: the
 *    figure a shared machine's load does not move). Goal: >= 10,000/s (decisions with budgets persisted).
 * 3. callback delivery latency: a Notification on remediation.ran posts each decision of (1), signed, to a
 *    real HTTP receiver here; timed from the controller handing the outcome to the notifier to the receiver
 *    holding the verified body (median).
 * One JSON object as the last line.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { silentLogger, systemClock } from '../agent/engine/index.js';
import { Outbox } from '../agent/outbox.js';
import { RemediationRunner } from '../agent/remediation.js';
import { RemediationBudgets } from '../agent/remediation-budgets.js';
import type { Outcome } from '../src/notify/outcome.js';
import { verifySignature } from '../src/notify/sign.js';
import type { ManifestItem, ManifestRemediation } from '../src/protocol/manifest.js';
import type { HostEvent } from '../src/protocol/messages.js';
import { type BenchController, startBenchController } from './_lib/controller.js';
import {
  AGENT_MAIN,
  BENCH_BOOTSTRAP_TOKEN,
  benchRepo,
  intArg,
  loadAverage,
  median,
  pollUntil,
  progress,
  removeDir,
  round,
  runBench,
  sleep,
  spawnNode,
} from './_lib/util.js';

const HOST = 'rem-bench-1';
const NOTIFY_ENV = 'GSE_BENCH_REMEDIATION_NOTIFY_SECRET';
const NOTIFY_SECRET = 'bench-remediation-notify-0123456789';
const READY_TIMEOUT_MS = 60_000;
/** How long one kill may take to be restarted before the bench gives up on it. */
const RESTART_TIMEOUT_MS = 10_000;
/** After a restart, the agent must have probed the new process up before the next kill. */
const SETTLE_PROBES = 3;
const GOAL_RESTART_MEDIAN_MS = 500;
const GOAL_DECISIONS_PER_S = 10_000;

let work: string | undefined;
let ctl: BenchController | undefined;
let receiver: Server | undefined;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function doc(kind: string, name: string, spec: Record<string, unknown>): string {
  return `apiVersion: gse/v1\nkind: ${kind}\nmetadata: ${JSON.stringify({ name })}\nspec: ${JSON.stringify(spec)}\n`;
}

/** The pid in `file` when that process is alive, else undefined. */
async function livePid(file: string): Promise<number | undefined> {
  const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  // A killed child of init may linger as a zombie for a moment: not running.
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z' ? undefined : pid;
}

/** (1) and (3): a real agent, a watched sleep, a Remediation restarting it, a Notification per decision. */
async function processDeath(
  dir: string,
  kills: number,
  probeMs: number,
): Promise<{ restartMs: number[]; callbackMs: number[]; received: number; badSignatures: number }> {
  const duration = `${5000 + Math.floor(Math.random() * 1000)}.${process.pid}`;
  const pidFile = join(dir, 'dummy.pid');
  process.env[NOTIFY_ENV] = NOTIFY_SECRET;

  // The receiver: verified bodies, timed by the task id their execution carries.
  const receivedAt = new Map<string, number>();
  let badSignatures = 0;
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      const raw = Buffer.concat(chunks);
      if (!verifySignature(raw, NOTIFY_SECRET, req.headers['x-gse-signature'] as string | undefined)) {
        badSignatures++;
        res.writeHead(401).end();
        return;
      }
      const body = JSON.parse(raw.toString()) as { execution?: { taskId?: string } };
      if (body.execution?.taskId) receivedAt.set(body.execution.taskId, at);
      res.writeHead(204).end();
    });
  });
  const server = receiver;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

  const everyHost = { names: ['*'] };
  const repo = await benchRepo(join(dir, 'repo'), {
    'fleet/watch.yaml': doc('ProcessWatch', 'dummy', {
      process: { cmdline: `^sleep ${duration.replace('.', '\\.')}$` },
      hosts: everyHost,
      probeInterval: `${probeMs}ms`,
    }),
    'fleet/restart.yaml': doc('Remediation', 'restart-dummy', {
      on: { event: 'process.down', match: { process: 'dummy' } },
      hosts: everyHost,
      run: {
        script: `sleep ${duration} </dev/null >/dev/null 2>&1 &\necho $! > ${pidFile}\n`,
        interpreter: '/bin/sh',
        timeout: '10s',
      },
      cooldown: '0s',
      maxPerHour: 100_000,
      // A run still finishing (its result being spooled) must not turn the next death into a skip.
      maxConcurrent: 10,
    }),
    // process.up lands in a file: the bench kills only a process the agent has seen up.
    'fleet/events.yaml': `${doc('StreamTarget', 'events-file', { file: { path: 'events/events.jsonl' } })}---\n${doc(
      'Route',
      'events',
      { channel: 'events', targets: [{ name: 'events-file' }], batch: { maxRecords: 1, maxDelay: '10ms' } },
    )}`,
    'fleet/notify.yaml': doc('Notification', 'remediations', {
      on: ['remediation.ran'],
      url,
      secretFrom: { env: NOTIFY_ENV },
    }),
  });
  ctl = await startBenchController(repo.dir, join(dir, 'ctl'), {
    heartbeatMs: 1_000,
    secretEnv: [NOTIFY_ENV],
  });
  // Instrument: when does the controller hand each remediation outcome to the notifier?
  const outcomeAt = new Map<string, number>();
  const notifier = ctl.controller.notifier;
  const original = notifier.outcome.bind(notifier);
  notifier.outcome = (o: Outcome) => {
    const taskId = (o.execution as { taskId?: string } | undefined)?.taskId;
    if (o.type === 'remediation.ran' && taskId) outcomeAt.set(taskId, performance.now());
    return original(o);
  };

  const root = join(dir, 'agent');
  spawnNode([
    AGENT_MAIN,
    '--controller',
    ctl.agentUrl,
    '--token',
    BENCH_BOOTSTRAP_TOKEN,
    '--name',
    HOST,
    '--root',
    root,
    '--state-dir',
    join(root, 'var/lib/gse-agent'),
    '--insecure', // benches stay on plain ws (docs/ARCHITECTURE.md)
  ]);
  const c = ctl;
  if (!(await pollUntil(() => c.syncedCount() >= 1, READY_TIMEOUT_MS, 20)))
    throw new Error(`${HOST} did not become Synced within ${READY_TIMEOUT_MS} ms`);
  // The first probe finds the sleep down: the Remediation starts the first one.
  if (!(await pollUntil(async () => (await livePid(pidFile)) !== undefined, READY_TIMEOUT_MS, 10)))
    throw new Error('the Remediation did not start the first dummy process');
  progress('agent Synced, dummy running; killing it', { kills, probeMs });

  const eventsFile = join(dir, 'ctl', 'targets', 'events', 'events.jsonl');
  const ups = async () =>
    (await readFile(eventsFile, 'utf8').catch(() => '')).split('\n').filter((l) => l.includes('"process.up"'))
      .length;
  const restartMs: number[] = [];
  for (let i = 0; i < kills; i++) {
    // The agent saw the current process up (one process.up per start so far), then a few probes more.
    if (!(await pollUntil(async () => (await ups()) >= i + 1, RESTART_TIMEOUT_MS, 10)))
      throw new Error(`kill ${i}: the agent did not report the dummy process up`);
    await sleep(SETTLE_PROBES * probeMs);
    const pid = await livePid(pidFile);
    if (pid === undefined) throw new Error(`kill ${i}: no dummy process running`);
    const t0 = performance.now();
    process.kill(pid, 'SIGKILL');
    const ok = await pollUntil(
      async () => {
        const next = await livePid(pidFile);
        return next !== undefined && next !== pid;
      },
      RESTART_TIMEOUT_MS,
      2,
    );
    if (!ok) throw new Error(`kill ${i}: not restarted within ${RESTART_TIMEOUT_MS} ms`);
    restartMs.push(performance.now() - t0);
  }
  // Every run's outcome reaches the receiver.
  await pollUntil(() => [...outcomeAt.keys()].every((id) => receivedAt.has(id)), 30_000, 10);
  const callbackMs: number[] = [];
  for (const [id, at] of outcomeAt) {
    const got = receivedAt.get(id);
    if (got !== undefined) callbackMs.push(got - at);
  }
  const last = await livePid(pidFile);
  if (last !== undefined) process.kill(last, 'SIGKILL');
  return { restartMs, callbackMs, received: receivedAt.size, badSignatures };
}

function remediation(name: string, on: ManifestRemediation['on'], cooldownMs: number): ManifestRemediation {
  return {
    kind: 'Remediation',
    name,
    hash: `h-${name}`,
    on,
    run: { run: 'true', script: 'true', timeoutMs: 10_000 },
    cooldownMs,
    maxConcurrent: 1,
    maxPerHour: 100_000,
    dryRun: false,
  };
}

/** (2): the agent's decision path under a storm of events, in this process. */
async function storm(dir: string, events: number, spool: boolean): Promise<Record<string, number>> {
  const stateDir = await mkdtemp(join(dir, 'storm-'));
  const budgets = await RemediationBudgets.open(join(stateDir, 'remediation-budgets.json'));
  const outbox = spool
    ? await Outbox.open(stateDir, { logger: silentLogger, dataHeld: () => false })
    : undefined;
  let runs = 0;
  let decisions = 0;
  const runner = new RemediationRunner({
    clock: systemClock,
    budgets,
    run: async () => {
      runs++;
      return {
        exitCode: 0,
        signal: null,
        stdoutTail: '',
        stderrTail: '',
        startedAt: new Date().toISOString(),
        durationMs: 0,
        timedOut: false,
        killed: false,
      };
    },
    emit: async (msg) => {
      decisions++;
      await outbox?.append(msg);
    },
  });
  // A flapping service (a cooldown holds it), a disk rule (no cooldown: each event decides and starts), and
  // a rule for another watch that matches nothing here.
  const items: ManifestItem[] = [
    remediation('restart-svc', { event: 'process.down', match: { process: 'svc' } }, 60_000),
    remediation('disk-clean', { event: 'disk.full' }, 0),
    remediation('restart-other', { event: 'process.down', match: { process: 'other' } }, 0),
  ];
  await runner.setItems(items, 'rev-bench');
  const base = Date.now();
  const list: HostEvent[] = Array.from({ length: events }, (_, i) => {
    const time = new Date(base + i).toISOString();
    return i % 2 === 0
      ? {
          type: 'process.down',
          time,
          resource: 'ProcessWatch/svc',
          fields: { process: 'svc', name: 'svc', pids: [], ensure: 'observed', restarts: 0 },
        }
      : { type: 'disk.full', time, resource: 'HostCheck/var', fields: { mount: '/var', usedPercent: 97 } };
  });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  // As on the agent: every event is handed to the runner as it comes (not one after the other).
  await Promise.all(list.map((e) => runner.onEvent(e)));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  await outbox?.close();
  return {
    events,
    decisions,
    runs,
    ms: round(ms, 1),
    cpuMs: round(cpuMs, 1),
    decisionsPerSecond: Math.round((decisions / ms) * 1000),
    decisionsPerCpuSecond: Math.round((decisions / cpuMs) * 1000),
  };
}

async function main(): Promise<void> {
  const kills = intArg('kills', 15);
  const events = intArg('storm', 10_000);
  const probeMs = intArg('probe-ms', 250);
  const rounds = Math.max(1, intArg('rounds', 3));
  work = await mkdtemp(join(tmpdir(), 'gse-bench-remediation-'));

  // The round of median wall time stands for each figure (the machine may be shared).
  const stormRounds = async (spool: boolean) => {
    const results: Array<Record<string, number>> = [];
    for (let i = 0; i < rounds; i++) {
      results.push(await storm(work as string, events, spool));
      progress('storm round done', { spool, ...results.at(-1) });
    }
    const byWall = [...results].sort((a, b) => (a.ms ?? 0) - (b.ms ?? 0));
    return { ...byWall[Math.floor(byWall.length / 2)] } as Record<string, number>;
  };
  progress('storm: the agent decision path', { events, rounds });
  const stormBudgets = await stormRounds(false);
  const stormSpooled = await stormRounds(true);

  const death =
    kills > 0
      ? await processDeath(join(work, 'death'), kills, probeMs)
      : { restartMs: [], callbackMs: [], received: 0, badSignatures: 0 };
  const restartMedian = median(death.restartMs);
  const out = {
    bench: 'remediation',
    processDeathToRestart: {
      kills: death.restartMs.length,
      probeIntervalMs: probeMs,
      medianMs: round(restartMedian, 1),
      p90Ms: round(percentile(death.restartMs, 90), 1),
      maxMs: round(death.restartMs.length ? Math.max(...death.restartMs) : Number.NaN, 1),
      goalMedianMs: GOAL_RESTART_MEDIAN_MS,
      met: restartMedian < GOAL_RESTART_MEDIAN_MS,
    },
    decisionStorm: {
      events,
      rounds,
      // Decide + budgets durable (fsynced file), as the agent does before anything runs.
      budgetsPersisted: stormBudgets,
      // The same, and every decision's execResult spooled durably (the agent's outbox) before it counts.
      budgetsPersistedAndSpooled: stormSpooled,
      goalDecisionsPerSecond: GOAL_DECISIONS_PER_S,
      met: (stormBudgets.decisionsPerSecond ?? 0) >= GOAL_DECISIONS_PER_S,
    },
    callbackDelivery: {
      outcomes: death.callbackMs.length,
      received: death.received,
      badSignatures: death.badSignatures,
      medianMs: round(median(death.callbackMs), 1),
      p90Ms: round(percentile(death.callbackMs, 90), 1),
      goal: 'reported (no target set)',
    },
    loadAverage: loadAverage(),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

runBench(main, async () => {
  await ctl?.stop();
  receiver?.close();
  await removeDir(work);
  delete process.env[NOTIFY_ENV];
});
