/**
 * `npm run bench -- store-writes [--hosts 1000] [--statuses 1] [--drifts 1] [--batch 100] [--rounds 20]
 *   [--impl DIR]`
 *
 * The store's share of a commit on Redis, alone: per batch of `--batch` hosts (as the controller's
 * HostWriter sends them), `putDrifts` of `--drifts` new drift records per host (a commit's intentional
 * drift: one per changed item) and `putHostStates` of every host (its record and `--statuses` statuses),
 * `--rounds` times, each round moving every host and status between Synced and OutOfSync. One real
 * redis-server (AOF on, as the replicas bench runs it). Per round: wall time, this process's CPU and
 * redis-server's CPU (INFO cpu); medians over the rounds after the first. `--impl DIR` loads the store from
 * DIR/dist (another build, say main's) so two builds can be compared run by run. Prints one JSON object as
 * its last line.
 */
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import type * as RedisStoreModule from '../src/store/redis-store.js';
import type { DriftRecord, HostStateWrite, SyncState } from '../src/store/types.js';
import { type BenchRedis, startBenchRedis } from './_lib/cluster.js';
import { argValue, intArg, loadAverage, median, round, runBench } from './_lib/util.js';

let redis: BenchRedis | undefined;

/** redis-server's CPU seconds so far (user + system). */
async function redisCpuS(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? Number.NaN);
  return field('used_cpu_sys') + field('used_cpu_user');
}

/** Every host's write in one round: all hosts and statuses in `state`, stamped with round `r`'s time. */
function roundWrites(hosts: number, statuses: number, r: number, state: SyncState): HostStateWrite[] {
  const at = new Date(Date.UTC(2026, 0, 1) + r * 1000).toISOString();
  return Array.from({ length: hosts }, (_, h) => {
    const hostId = `host-${String(h).padStart(5, '0')}`;
    return {
      host: {
        hostId,
        name: `web-${h}`,
        ips: [`10.0.${h >> 8}.${h & 255}`],
        cloudId: 0,
        os: 'linux',
        agentVersion: '1.0.0',
        labels: { role: 'web', zone: h % 2 === 0 ? 'a' : 'b' },
        facts: { cpus: 2, kernel: '6.1.0' },
        firstSeen: at,
        lastSeen: at,
        connected: true,
        syncState: state,
        revision: `${r}`.padStart(40, '0'),
        desiredHash: 'd'.repeat(64),
        reportedHash: 'e'.repeat(64),
        lastReportAt: at,
      },
      statuses: Array.from({ length: statuses }, (_, s) => ({
        hostId,
        key: `ConfigFile/file-${s}`,
        kind: 'ConfigFile',
        name: `file-${s}`,
        hash: 'f'.repeat(64),
        state,
        updatedAt: at,
      })),
    };
  });
}

/** Round `r`'s drift records of one host: `n` intentional ones, healed as applied. */
function roundDrifts(hostId: string, n: number, r: number): DriftRecord[] {
  const at = new Date(Date.UTC(2026, 0, 1) + r * 1000).toISOString();
  return Array.from({ length: n }, (_, s) => ({
    id: `${hostId}:report-${r}:ConfigFile/file-${s}`,
    hostId,
    key: `ConfigFile/file-${s}`,
    kind: 'intentional',
    revision: `${r}`.padStart(40, '0'),
    detectedAt: at,
    healed: true,
    healedAt: at,
    detail: `applied revision ${r}`,
    expectedHash: 'f'.repeat(64),
  }));
}

async function main(): Promise<void> {
  const hosts = intArg('hosts', 1000);
  const statuses = intArg('statuses', 1);
  const drifts = intArg('drifts', 1);
  const batch = intArg('batch', 100);
  const rounds = intArg('rounds', 20);
  const implArg = argValue('impl');
  const dist = implArg ? join(resolve(implArg), 'dist') : join(dirname(fileURLToPath(import.meta.url)), '..');
  const { RedisStore } = (await import(
    pathToFileURL(join(dist, 'src/store/redis-store.js')).href
  )) as typeof RedisStoreModule;

  redis = await startBenchRedis();
  const store = await RedisStore.open(redis.url, { prefix: 'bench:' });
  const admin = new Redis(redis.url);
  const wallMs: number[] = [];
  const nodeCpuMs: number[] = [];
  const redisCpuMs: number[] = [];
  try {
    for (let r = 0; r <= rounds; r++) {
      const writes = roundWrites(hosts, statuses, r, r % 2 === 0 ? 'Synced' : 'OutOfSync');
      const redis0 = await redisCpuS(admin);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < writes.length; i += batch) {
        const slice = writes.slice(i, i + batch);
        if (drifts > 0) await store.putDrifts(slice.flatMap((w) => roundDrifts(w.host.hostId, drifts, r)));
        await store.putHostStates(slice);
      }
      const wall = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const redisCpu = (await redisCpuS(admin)) - redis0;
      if (r === 0) continue; // the first round creates the records
      wallMs.push(wall);
      nodeCpuMs.push((cpu.user + cpu.system) / 1000);
      redisCpuMs.push(redisCpu * 1000);
    }
  } finally {
    admin.disconnect();
    await store.close();
  }
  const perHost = (ms: number) => round((ms * 1000) / hosts, 1);
  console.log(
    JSON.stringify({
      bench: 'store-writes',
      what: `putDrifts + putHostStates on Redis: ${hosts} hosts x (${drifts} drift records, ${statuses} statuses), ${batch} hosts a call, per round`,
      impl: implArg ? resolve(implArg) : 'this build',
      rounds,
      medianWallMs: round(median(wallMs), 1),
      medianNodeCpuMs: round(median(nodeCpuMs), 1),
      medianRedisCpuMs: round(median(redisCpuMs), 1),
      perHostUs: {
        wall: perHost(median(wallMs)),
        nodeCpu: perHost(median(nodeCpuMs)),
        redisCpu: perHost(median(redisCpuMs)),
      },
      loadAverage: loadAverage(),
      node: process.version,
    }),
  );
}

runBench(main, async () => {
  await redis?.stop();
});
