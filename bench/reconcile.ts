/**
 * `npm run bench -- reconcile [--count 10000] [--changes 3] [--concurrency 500] [--impl DIR]`
 *
 * The controller's reconcile path alone, with no sockets and no agents: a Reconciler on a SQLite store
 * (temp dir) and a hub that encodes every frame it is sent (as the real one does) and accepts it. N hosts
 * connect (`--concurrency` at a time, as agents' onConnect handlers run side by side) and report; then for
 * each of `--changes` revisions: `setRevision` (plan, send, store every host) and every host's report of
 * the new manifest, handled `--concurrency` at a time. The revision: two HostGroups (zone a/b by name),
 * a 1 KiB ConfigFile on every host and a templated one reading `{{ host.labels.zone }}`.
 * `--impl DIR` loads the Reconciler, store and loader from DIR/dist (another build, say main's) so two
 * builds can be compared run by run on the same machine. Prints one JSON object as its last line.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as MetricsModule from '../src/controller/metrics.js';
import type * as ReconcilerModule from '../src/controller/reconciler.js';
import type * as CodecModule from '../src/protocol/codec.js';
import type { HostFacts } from '../src/protocol/manifest.js';
import type { ManifestMessage, ReportMessage } from '../src/protocol/messages.js';
import type * as LoadModule from '../src/spec/load.js';
import type { Revision } from '../src/spec/types.js';
import type * as SqliteModule from '../src/store/sqlite-store.js';
import { argValue, intArg, loadAverage, median, progress, removeDir, round, runBench } from './_lib/util.js';

/** Goal of issue 12: commit -> 10,000 hosts Synced from the revision entering the reconciler. */
const GOAL_10K_MS = 4000;

let work: string | undefined;

async function main(): Promise<void> {
  const count = intArg('count', 10_000);
  const changes = intArg('changes', 3);
  const concurrency = intArg('concurrency', 500);
  const implArg = argValue('impl');
  const dist = implArg ? join(resolve(implArg), 'dist') : join(dirname(fileURLToPath(import.meta.url)), '..');
  const load = <T>(path: string): Promise<T> => import(pathToFileURL(join(dist, path)).href) as Promise<T>;
  const { Reconciler } = await load<typeof ReconcilerModule>('src/controller/reconciler.js');
  const { ControllerMetrics } = await load<typeof MetricsModule>('src/controller/metrics.js');
  const { SqliteStore } = await load<typeof SqliteModule>('src/store/sqlite-store.js');
  const { loadRevisionFromDir } = await load<typeof LoadModule>('src/spec/load.js');
  const { encodeFrame } = await load<typeof CodecModule>('src/protocol/codec.js');

  work = await mkdtemp(join(tmpdir(), 'gse-bench-reconcile-'));
  const store = await SqliteStore.open(join(work, 'gse.db'));
  const metrics = new ControllerMetrics(() => ({
    hostsBySyncState: {},
    agentConnections: 0,
    git: { fetches: 0, fetchErrors: 0, lastFetchMs: null },
    routes: {},
    targets: {},
  }));
  const sent = new Map<string, ManifestMessage>();
  let sentBytes = 0;
  let ids = 0;
  let clock = Date.parse('2026-01-01T00:00:00.000Z');
  const reconciler = new Reconciler({
    store,
    hub: {
      send(agentId, msg) {
        sentBytes += encodeFrame(msg).length;
        sent.set(agentId, msg);
        return true;
      },
    },
    metrics,
    logger: { info: () => {}, warn: () => {} },
    now: () => clock++,
    newId: () => `m-${++ids}`,
  });

  const revisionOf = async (k: number): Promise<Revision> => {
    const dir = join(work as string, `rev-${k}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'fleet.yaml'), fleetSpec(k));
    const loaded = await loadRevisionFromDir(dir);
    if (!loaded.ok) throw new Error(`revision ${k}: ${JSON.stringify(loaded.errors)}`);
    return { ...loaded.revision, id: `rev-${k}` };
  };

  /** Every host reports what it was last sent, applied ok; `concurrency` handlers at a time. */
  const reportAll = async (rev: string): Promise<number> => {
    const t = performance.now();
    await inWaves(count, concurrency, (i) => {
      const id = `sim-${i}`;
      const msg = sent.get(id);
      if (!msg) throw new Error(`${id} was sent nothing`);
      const desired = reconciler.desiredFor(id);
      if (!desired) throw new Error(`${id} has no manifest`);
      const report: ReportMessage = {
        v: 1,
        type: 'report',
        id: `r-${rev}-${i}`,
        manifestHash: desired.hash,
        revision: rev,
        items: desired.items.map((item) => ({
          kind: item.kind,
          name: item.name,
          hash: item.hash,
          state: 'changed' as const,
          ...(item.kind === 'ConfigFile' ? { observedHash: item.contentHash } : {}),
        })),
      };
      return reconciler.hostReported(id, report);
    });
    return performance.now() - t;
  };
  const syncedOn = (rev: string): number =>
    reconciler.current?.id === rev
      ? reconciler.hostStates().filter((h) => h.syncState === 'Synced').length
      : 0;

  await reconciler.setRevision(await revisionOf(0));
  const tConnect = performance.now();
  await inWaves(count, concurrency, (i) => reconciler.hostConnected(facts(i), ''));
  const connectMs = performance.now() - tConnect;
  const firstReportsMs = await reportAll('rev-0');
  if (syncedOn('rev-0') !== count) throw new Error(`only ${syncedOn('rev-0')}/${count} Synced on rev-0`);
  progress('fleet connected and Synced', {
    connectMs: round(connectMs, 0),
    reportsMs: round(firstReportsMs, 0),
  });

  const rounds: Array<{ setRevisionMs: number; reportsMs: number; totalMs: number; sentMiB: number }> = [];
  for (let k = 1; k <= changes; k++) {
    const revision = await revisionOf(k);
    sentBytes = 0;
    const t = performance.now();
    await reconciler.setRevision(revision);
    const setRevisionMs = performance.now() - t;
    const reportsMs = await reportAll(revision.id);
    const totalMs = performance.now() - t;
    if (syncedOn(revision.id) !== count) throw new Error(`only ${syncedOn(revision.id)}/${count} Synced`);
    rounds.push({
      setRevisionMs: round(setRevisionMs, 1),
      reportsMs: round(reportsMs, 1),
      totalMs: round(totalMs, 1),
      sentMiB: round(sentBytes / 2 ** 20, 2),
    });
    progress(`change ${k}`, { ...rounds[rounds.length - 1] });
  }
  await store.close();

  const medianTotal = median(rounds.map((r) => r.totalMs));
  console.log(
    JSON.stringify({
      bench: 'reconcile',
      impl: implArg ? resolve(implArg) : 'this build',
      count,
      concurrency,
      connect: { ms: round(connectMs, 0), perHostUs: round((connectMs * 1000) / count, 1) },
      firstReportsMs: round(firstReportsMs, 0),
      rounds,
      medianSetRevisionMs: median(rounds.map((r) => r.setRevisionMs)),
      medianReportsMs: median(rounds.map((r) => r.reportsMs)),
      medianRevisionToSyncedMs: medianTotal,
      goal: {
        what: 'commit -> 10,000 hosts Synced, from the revision entering the reconciler (controller share, no network)',
        goalMs: GOAL_10K_MS,
        medianMs: medianTotal,
        met: count === 10_000 && rounds.length > 0 ? medianTotal < GOAL_10K_MS : null,
      },
      controllerRssMiB: round(process.memoryUsage().rss / 2 ** 20, 1),
      loadAverage: loadAverage(),
      node: process.version,
    }),
  );
}

/** Runs `fn(1..n)` with at most `width` calls in flight, wave after wave. */
async function inWaves(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  for (let start = 1; start <= n; start += width) {
    const wave: Array<Promise<void>> = [];
    for (let i = start; i < Math.min(n + 1, start + width); i++) wave.push(fn(i));
    await Promise.all(wave);
  }
}

function facts(i: number): HostFacts {
  return {
    id: `sim-${i}`,
    name: `sim-${i}`,
    ips: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
    cloudId: 0,
    os: 'linux',
    agentVersion: '0.1.0',
    labels: {},
  };
}

/** Zone a for names ending in an even digit, b for odd; a 1 KiB motd and a templated zone file. */
function fleetSpec(k: number): string {
  const motd = `managed by gse-gitops, change ${k}\n${'x'.repeat(1000)}\n`;
  return `apiVersion: gse/v1
kind: HostGroup
metadata: { name: zone-a }
spec:
  match: { names: ["sim-*0", "sim-*2", "sim-*4", "sim-*6", "sim-*8"] }
  labels: { zone: a }
---
apiVersion: gse/v1
kind: HostGroup
metadata: { name: zone-b }
spec:
  match: { names: ["sim-*1", "sim-*3", "sim-*5", "sim-*7", "sim-*9"] }
  labels: { zone: b }
---
apiVersion: gse/v1
kind: ConfigFile
metadata: { name: motd }
spec:
  hosts: { names: ["*"] }
  path: /etc/motd
  content: ${JSON.stringify(motd)}
  mode: "0644"
  syncPolicy: { selfHeal: true, prune: false }
---
apiVersion: gse/v1
kind: ConfigFile
metadata: { name: zone }
spec:
  hosts: { names: ["*"] }
  path: /etc/zone.conf
  template: true
  content: "zone={{ host.labels.zone }} change=${k}\\n"
  mode: "0644"
  syncPolicy: { selfHeal: true, prune: false }
`;
}

runBench(main, async () => {
  await removeDir(work);
});
