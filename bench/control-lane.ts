/**
 * Control before data (issue #9 item 15): the exec round trip to a host (`POST /api/v1/exec` with `wait`,
 * until its result is recorded and streamed back), first idle, then while the same host pushes `--records`
 * records (`gse-agent push` into its ingest socket) to a Redis StreamTarget on a port nobody listens on.
 * By default the target keeps its default spool (256 MiB), so records keep flowing into it during the trips;
 * `--spool-bytes 1000000` makes the spool fill, so the data lane saturates (the case that used to cut the
 * host off). `busy` is the trips made while the push runs, `afterPush` those made after it, while the
 * records wait in the agent's data lane and the dead target's spool. A real controller in this process, a real agent child process. Progress goes to stderr; the
 * last stdout line is one JSON object.
 *
 * Usage: npm run bench -- control-lane [--records 100000] [--trips 20] [--spool-bytes N]
 */
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { startBenchController } from './_lib/controller.js';
import {
  AGENT_MAIN,
  BENCH_ADMIN_TOKEN,
  BENCH_BOOTSTRAP_TOKEN,
  benchRepo,
  intArg,
  loadAverage,
  median,
  motdSpec,
  pollUntil,
  progress,
  round,
  sleep,
  spawnNode,
  stopAllChildren,
  tmpfsDir,
} from './_lib/util.js';

/** Goal: the busy median round trip within this factor of the idle one. */
const GOAL_RATIO = 2;
const HOST = 'lane-1';
const READY_TIMEOUT_MS = 60_000;
/** Bound of one exec round trip; a trip that takes longer is recorded at this value and counted as lost. */
const TRIP_TIMEOUT_MS = 30_000;
/** Pause between trips, so the busy trips spread over the push. */
const TRIP_GAP_MS = 50;

function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)] ?? Number.NaN;
}

/** A TCP port that was free a moment ago and that nothing listens on now. */
async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

function deadTargetYaml(port: number, spoolBytes: number): string {
  return `apiVersion: gse/v1
kind: StreamTarget
metadata: { name: dead-redis }
spec:
  redis: { url: "redis://127.0.0.1:${port}", mode: stream, key: "bench:dead" }
${spoolBytes > 0 ? `  spool: { maxBytes: ${spoolBytes} }\n` : ''}---
apiVersion: gse/v1
kind: Route
metadata: { name: metrics }
spec:
  channel: metrics
  targets: [{ name: dead-redis }]
  batch: { maxRecords: 500, maxDelay: 50ms }
`;
}

/** One exec round trip through the HTTP API, in ms; TRIP_TIMEOUT_MS when no result came back in time. */
async function execTrip(url: string): Promise<{ ms: number; ok: boolean }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/api/v1/exec`, {
    method: 'POST',
    headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ hosts: `name=${HOST}`, script: 'true', timeoutMs: TRIP_TIMEOUT_MS, wait: true }),
    signal: AbortSignal.timeout(TRIP_TIMEOUT_MS),
  }).catch(() => undefined);
  const text = res ? await res.text().catch(() => '') : '';
  const ok = text.includes('"type":"result"');
  return { ms: ok ? performance.now() - t0 : TRIP_TIMEOUT_MS, ok };
}

/** Up to `n` sequential trips, stopping early once `until()` holds (checked before each trip). */
async function trips(
  url: string,
  n: number,
  until: () => boolean = () => false,
): Promise<{ ms: number[]; lost: number }> {
  const ms: number[] = [];
  let lost = 0;
  for (let i = 0; i < n && !until(); i++) {
    const t = await execTrip(url);
    ms.push(t.ms);
    if (!t.ok) lost++;
    await sleep(TRIP_GAP_MS);
  }
  return { ms, lost };
}

function summary(ms: number[]) {
  return {
    medianMs: round(median(ms)),
    p95Ms: round(p95(ms)),
    n: ms.length,
    tripsMs: ms.map((m) => round(m, 0)),
  };
}

async function main(): Promise<void> {
  const records = intArg('records', 100_000);
  const n = intArg('trips', 20);
  const spoolBytes = intArg('spool-bytes', 0); // 0: the target's default spool
  const work = await tmpfsDir('gse-bench-lane-');
  try {
    const port = await deadPort();
    const repo = await benchRepo(join(work, 'repo'), {
      'fleet/data.yaml': deadTargetYaml(port, spoolBytes),
      'fleet/motd.yaml': motdSpec('motd', '/etc/motd', 'v1\n'),
    });
    const ctl = await startBenchController(repo.dir, join(work, 'ctl'), { heartbeatMs: 1_000 });
    const root = join(work, 'agent');
    const stateDir = join(root, 'var/lib/gse-agent');
    const agent = spawnNode([
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
      stateDir,
      '--insecure', // benches stay on plain ws (docs/ARCHITECTURE.md)
    ]);
    const head = ctl.controller.reconciler.current?.id ?? '';
    if (!(await pollUntil(() => ctl.syncedCount() >= 1, READY_TIMEOUT_MS, 20)))
      throw new Error(
        `${HOST} did not become Synced within ${READY_TIMEOUT_MS} ms; agent stderr: ${agent.tail().join('\n')}`,
      );
    progress('agent Synced; idle round trips', { head: head.slice(0, 12), n });
    await trips(ctl.url, 3); // warm-up: shell, SQLite pages, JIT
    const idle = await trips(ctl.url, n);

    progress('pushing records to the dead target', { records, spoolBytes });
    const push = spawn(
      process.execPath,
      [AGENT_MAIN, 'push', '--state-dir', stateDir, '--channel', 'metrics'],
      {
        stdio: ['pipe', 'ignore', 'ignore'],
      },
    );
    let pushDone = false;
    const pushExited = new Promise<void>((resolve) =>
      push.on('exit', () => {
        pushDone = true;
        resolve();
      }),
    );
    const line = (i: number) => `{"value":${i},"msg":"${'x'.repeat(60)}"}\n`;
    (async () => {
      for (let i = 0; i < records; i += 1_000) {
        let chunk = '';
        for (let j = i; j < Math.min(records, i + 1_000); j++) chunk += line(j);
        if (!push.stdin.write(chunk)) await new Promise((r) => push.stdin.once('drain', r));
      }
      push.stdin.end();
    })().catch(() => {});
    // Measure once the dead target holds records: the data lane is loaded from then on.
    await pollUntil(
      () => (ctl.controller.data.current?.health()[0]?.spoolDepth ?? 0) > 0,
      READY_TIMEOUT_MS,
      20,
    );
    // CPU both processes spent during the busy trips: on a small box, contention explains what lanes cannot.
    const cpu0 = { agent: agent.cpuSeconds(), controller: process.cpuUsage() };
    const b0 = performance.now();
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    // Only trips that start while the push still runs count as busy: after it, the host is idle again.
    const busy = await trips(ctl.url, n, () => pushDone);
    loopDelay.disable();
    const busyWallS = (performance.now() - b0) / 1000;
    const ctlCpu = process.cpuUsage(cpu0.controller);
    const busyCpu = {
      wallSeconds: round(busyWallS),
      agentCpuSeconds: round(agent.cpuSeconds() - cpu0.agent),
      controllerCpuSeconds: round((ctlCpu.user + ctlCpu.system) / 1e6),
      controllerLoopDelayP99Ms: round(loopDelay.percentile(99) / 1e6),
    };
    const pushFinishedDuringTrips = pushDone;
    // After the push: the records sit in the agent's data lane and the dead target's spool; control must be
    // back to idle speed (the case that used to cut the host off for good when the spool was full).
    await pushExited;
    const after = await trips(ctl.url, n);
    const target = ctl.controller.data.current?.health()[0];
    const session = ctl.controller.hub.session(HOST);

    // A commit must still reach the host while its data lane is saturated.
    const c0 = performance.now();
    const sha = await repo.commit({ 'fleet/motd.yaml': motdSpec('motd', '/etc/motd', 'v2\n') });
    await ctl.webhook();
    const committed = await ctl.waitSynced(sha, 1, TRIP_TIMEOUT_MS, 10);
    const commitMs = committed ? round(performance.now() - c0) : null;

    push.kill('SIGTERM');
    await pushExited;
    await stopAllChildren();
    await ctl.stop();

    const idleS = summary(idle.ms);
    const busyS = summary(busy.ms);
    const ratio = round(busyS.medianMs / idleS.medianMs);
    console.log(
      JSON.stringify({
        bench: 'control-lane',
        records,
        spoolBytes: spoolBytes || 'default',
        idle: { ...idleS, lost: idle.lost },
        busy: { ...busyS, lost: busy.lost },
        afterPush: { ...summary(after.ms), lost: after.lost },
        afterPushRatio: round(median(after.ms) / idleS.medianMs),
        ratio,
        p95Ratio: round(busyS.p95Ms / idleS.p95Ms),
        goalRatio: GOAL_RATIO,
        withinGoal: ratio <= GOAL_RATIO && busy.lost === 0,
        commitToSyncedMs: commitMs,
        busyCpu,
        hostStatusDuringLoad: session?.status ?? 'disconnected',
        target: target
          ? { spoolDepth: target.spoolDepth, spoolBytes: target.spoolBytes, pressure: target.pressure }
          : null,
        pushFinishedDuringTrips,
        loadAverage: loadAverage(),
      }),
    );
  } finally {
    await stopAllChildren();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch(async (err: unknown) => {
  progress('failed', { error: String(err) });
  await stopAllChildren();
  process.exit(1);
});
