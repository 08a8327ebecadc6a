/**
 * `npm run bench -- files [--count 200] [--runs 5] [--edited 20] [--tmpfs]`
 *
 * One real agent process (`node dist/agent/main.js --root <tmp>`) connected to a real FleetHub on an HTTP
 * server in this process (no Git, no store). The hub sends it one full `manifest` of `--count` ConfigFiles
 * (~1 KiB each, mode 0644, planned with `planHost`), and the time is taken from `hub.send` to the agent's
 * `report` reaching the hub's onMessage handler, for BASELINES.md's three states:
 *   a: the root is empty (every file new);
 *   b: everything converged (the same manifest again under a new message id: the agent re-verifies);
 *   c: `--edited` files had a line appended by hand first (the manifest-driven fix).
 * Every item has `selfHeal: false` in all three runs (one manifest, one hash), so the agent's drift watcher
 * reports the hand edits of (c) as drifted instead of healing them before the manifest arrives; the bench
 * waits for those drift reports before sending. Each of `--runs` cycles (after one warm-up cycle) starts a
 * fresh agent process on a fresh root and runs a, b, c; every file's sha256 and mode, and that no other file
 * is there, are checked after each run. The root is in the OS temp dir (disk) unless `--tmpfs` (/dev/shm).
 * For scale, the same run also times `count` bare durable writes (temp file, write, fsync, rename, fsync of
 * the directory; what the agent does per changed file, without backup or ledger) and `count` plain writes
 * on the same file system. When `cf-agent` is installed (CFEngine; `$CF_AGENT`, /usr/bin or /var/cfengine/bin),
 * the same run times its whole `cf-agent -K` process on the same three states (inline `content` promises,
 * mode 0644, no `.cfsaved` backups) and prints the ratio to it; otherwise that part is skipped and the
 * ratio is to BASELINES.md's figures. Prints medians and ratios to the peers as the last line.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  appendFile,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rename,
  stat,
  writeFile,
} from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { planHost } from '../src/controller/plan.js';
import { FleetHub } from '../src/fleet/hub.js';
import { MemoryAgentRegistry } from '../src/fleet/registry.js';
import type { HostManifest, ManifestConfigFile } from '../src/protocol/manifest.js';
import type { ReportMessage, SpooledMessage } from '../src/protocol/messages.js';
import { KINDS, type Resource, type Revision } from '../src/spec/types.js';
import { probeMachine } from './_lib/machine.js';
import {
  AGENT_MAIN,
  BENCH_BOOTSTRAP_TOKEN,
  intArg,
  loadAverage,
  type ManagedChild,
  median,
  pollUntil,
  progress,
  removeDir,
  round,
  runBench,
  sleep,
  spawnNode,
  tmpfsDir,
} from './_lib/util.js';

/** BASELINES.md: the fastest peer figure of each column (seconds). */
const PEERS = {
  cfengine: { a: 0.156, b: 0.089, c: 0.097 },
  puppetApplyTime: { a: 0.3, b: 0.08, c: 0.16 },
} as const;
const REPORT_TIMEOUT_MS = 30_000;
const DIR = '/etc/bench';

type RunName = 'a' | 'b' | 'c';

interface Arrival {
  at: number;
  agentId: string;
  msg: ReportMessage;
}

let server: Server | undefined;
let hub: FleetHub | undefined;
let agent: ManagedChild | undefined;
const roots: string[] = [];

/** ~1 KiB of text per file, distinct per file. */
function contentOf(i: number): string {
  const lines: string[] = [`# managed by gse-gitops: file ${i}`];
  for (let l = 0; lines.join('\n').length < 1000; l++) {
    lines.push(`key_${i}_${l} = value ${((i * 7919 + l * 104729) % 1_000_003).toString(16)} lorem ipsum`);
  }
  return `${lines.join('\n').slice(0, 1023)}\n`;
}

function fileName(i: number): string {
  return `f-${String(i).padStart(3, '0')}.conf`;
}

/** A Revision of `count` ConfigFiles, indexed by kind as the loader does (cf. test/helpers/revision.ts). */
function revisionOf(count: number): Revision {
  const pos = { file: 'bench.yaml', line: 1, col: 1 };
  const resources: Resource[] = Array.from({ length: count }, (_, k) => ({
    apiVersion: 'gse/v1',
    kind: 'ConfigFile',
    metadata: { name: `f-${String(k + 1).padStart(3, '0')}` },
    pos,
    spec: {
      hosts: { names: ['*'] },
      path: `${DIR}/${fileName(k + 1)}`,
      content: contentOf(k + 1),
      template: false,
      mode: 0o644,
      syncPolicy: { selfHeal: false, prune: false },
    },
  })) as Resource[];
  const byKind = Object.fromEntries(
    KINDS.map((k) => [k, resources.filter((r) => r.kind === k)]),
  ) as Revision['byKind'];
  return { id: 'bench-files-rev', resources, byKind, files: new Map() };
}

/** Median ms of writing `count` ~1 KiB files into a fresh dir under `base`: durably (as the agent), and plainly. */
async function writeFloor(
  base: string,
  count: number,
  rounds: number,
): Promise<{ durableMs: number; batchedMs: number; plainMs: number }> {
  const durable: number[] = [];
  const batched: number[] = [];
  const plain: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const dir = await mkdtemp(join(base, 'gse-bench-floor-'));
    roots.push(dir);
    await mkdir(join(dir, 'd'), { recursive: true });
    await mkdir(join(dir, 'p'), { recursive: true });
    let t = performance.now();
    for (let i = 1; i <= count; i++) {
      const target = join(dir, 'd', fileName(i));
      const tmp = `${target}.tmp`;
      const fh = await open(tmp, 'wx', 0o600);
      await fh.writeFile(contentOf(i));
      await fh.chmod(0o644);
      await fh.sync();
      await fh.close();
      await rename(tmp, target);
      const dh = await open(join(dir, 'd'), 'r');
      await dh.sync();
      await dh.close();
    }
    durable.push(performance.now() - t);
    // The same durability as one batch (what the agent now does): all temps fsynced concurrently, then the
    // renames, then one fsync of the directory.
    await mkdir(join(dir, 'b'), { recursive: true });
    t = performance.now();
    await Promise.all(
      Array.from({ length: count }, async (_, k) => {
        const fh = await open(join(dir, 'b', `${fileName(k + 1)}.tmp`), 'wx', 0o600);
        await fh.writeFile(contentOf(k + 1));
        await fh.chmod(0o644);
        await fh.sync();
        await fh.close();
      }),
    );
    await Promise.all(
      Array.from({ length: count }, (_, k) =>
        rename(join(dir, 'b', `${fileName(k + 1)}.tmp`), join(dir, 'b', fileName(k + 1))),
      ),
    );
    const bh = await open(join(dir, 'b'), 'r');
    await bh.sync();
    await bh.close();
    batched.push(performance.now() - t);
    t = performance.now();
    for (let i = 1; i <= count; i++)
      await writeFile(join(dir, 'p', fileName(i)), contentOf(i), { mode: 0o644 });
    plain.push(performance.now() - t);
    await removeDir(dir);
  }
  return {
    durableMs: round(median(durable), 1),
    batchedMs: round(median(batched), 1),
    plainMs: round(median(plain), 1),
  };
}

/** The cf-agent binary to compare with, or undefined when CFEngine is not installed. */
function findCfAgent(): string | undefined {
  const candidates = [
    process.env.CF_AGENT,
    '/usr/bin/cf-agent',
    '/var/cfengine/bin/cf-agent',
    '/usr/sbin/cf-agent',
  ];
  return candidates.find((c): c is string => c !== undefined && c !== '' && existsSync(c));
}

/** A CFEngine policy promising the same `count` files under `root` (inline content, 0644, no backups). */
function cfPolicy(root: string, count: number): string {
  const promises = Array.from({ length: count }, (_, k) => {
    const text = contentOf(k + 1);
    if (/["\\$@]/.test(text)) throw new Error('bench content must not need CFEngine escaping');
    return `    "${join(root, DIR, fileName(k + 1))}"\n      create => "true",\n      perms => m("0644"),\n      edit_defaults => nobackup,\n      content => "${text}";`;
  });
  return [
    'body common control { bundlesequence => { "bench" }; }',
    'body perms m(mode) { mode => "$(mode)"; rxdirs => "false"; }',
    'body edit_defaults nobackup { edit_backup => "false"; }',
    'bundle agent bench {',
    '  files:',
    ...promises,
    '}',
    '',
  ].join('\n');
}

/** Wall ms of one whole `cf-agent -K -f policy` process; throws when it fails. */
function timeCfAgent(cfAgent: string, policy: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cfAgent, ['-K', '-f', policy], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve(ms);
      else reject(new Error(`cf-agent exited ${code}: ${stderr.slice(-300)}`));
    });
  });
}

/** Medians (s) of CFEngine's whole process on the bench's three states, each run verified like the agent's. */
async function cfengineRuns(
  cfAgent: string,
  base: string,
  manifest: HostManifest,
  count: number,
  edited: number,
  rounds: number,
): Promise<{ medianSeconds: Record<RunName, number>; verified: boolean }> {
  const times: Record<RunName, number[]> = { a: [], b: [], c: [] };
  let verified = true;
  for (let r = 0; r <= rounds; r++) {
    const root = await mkdtemp(join(base, 'gse-bench-cf-'));
    roots.push(root);
    const policy = join(root, 'policy.cf');
    // cf-agent refuses a policy file others may write.
    await writeFile(policy, cfPolicy(root, count), { mode: 0o600 });
    const run = async (name: RunName) => {
      const ms = await timeCfAgent(cfAgent, policy);
      const v = await verify(root, manifest);
      verified &&= v.ok;
      if (r > 0) times[name].push(ms);
      progress(`cfengine round ${r}${r === 0 ? ' (warm-up)' : ''} run ${name}`, {
        ms: round(ms, 1),
        verified: v.ok,
      });
    };
    await run('a');
    await run('b');
    const step = Math.max(1, Math.floor(count / edited));
    for (let k = 0; k < edited; k++)
      await appendFile(join(root, DIR, fileName(1 + k * step)), `# edited by hand ${r}\n`);
    await run('c');
    await removeDir(root);
  }
  const med = (n: RunName) => round(median(times[n]) / 1000, 4);
  return { medianSeconds: { a: med('a'), b: med('b'), c: med('c') }, verified };
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Every managed file has its sha256 and mode, and nothing else is in the directory. */
async function verify(root: string, manifest: HostManifest): Promise<{ ok: boolean; problems: string[] }> {
  const problems: string[] = [];
  const files = manifest.items.filter((i): i is ManifestConfigFile => i.kind === 'ConfigFile');
  for (const f of files) {
    const abs = join(root, f.path);
    try {
      const [data, st] = await Promise.all([readFile(abs), stat(abs)]);
      if (sha256(data) !== f.contentHash) problems.push(`${f.path}: sha256 differs`);
      if ((st.mode & 0o7777) !== f.mode) problems.push(`${f.path}: mode 0${(st.mode & 0o7777).toString(8)}`);
    } catch (err) {
      problems.push(`${f.path}: ${String(err)}`);
    }
  }
  const present = await readdir(join(root, DIR)).catch(() => [] as string[]);
  const expected = new Set(files.map((f) => f.path.slice(DIR.length + 1)));
  for (const name of present) if (!expected.has(name)) problems.push(`extra file ${name}`);
  return { ok: problems.length === 0, problems: problems.slice(0, 5) };
}

async function main(): Promise<void> {
  // Before the fleet starts, while this process is small (its size is part of spawnTrueMs).
  const machine = probeMachine();
  const count = intArg('count', 200);
  const runs = intArg('runs', 5);
  const edited = Math.min(intArg('edited', 20), count);
  const onTmpfs = process.argv.includes('--tmpfs');
  const base = onTmpfs ? await tmpfsDir('gse-bench-files-base-') : tmpdir();
  if (onTmpfs) roots.push(base);
  if (count < 1 || runs < 1) throw new Error('--count and --runs must be >= 1');

  // --- the hub, recording every report with the time its handler was called ---
  const arrivals: Arrival[] = [];
  let wake: (() => void) | undefined;
  const messages: { agentId: string; msg: SpooledMessage }[] = [];
  server = createServer((_req, res) => res.writeHead(404).end());
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const h = await FleetHub.create(
    server,
    { bootstrapToken: BENCH_BOOTSTRAP_TOKEN },
    {
      registry: new MemoryAgentRegistry(),
      handlers: {
        onMessage: async (agentId, msg) => {
          const at = performance.now();
          messages.push({ agentId, msg });
          if (msg.type === 'report') {
            arrivals.push({ at, agentId, msg });
            wake?.();
          }
        },
      },
    },
  );
  hub = h;
  const url = `ws://127.0.0.1:${port}/agent`;

  const revision = revisionOf(count);
  const samples: Record<RunName, number[]> = { a: [], b: [], c: [] };
  const changed: Record<RunName, number[]> = { a: [], b: [], c: [] };
  const driftReportsBeforeC: number[] = [];
  const verifications: Array<{ cycle: number; run: RunName; ok: boolean; problems: string[] }> = [];
  const agentPeakMiB: number[] = [];
  let msgSeq = 0;

  /** Sends the full manifest and resolves with the ms until its report arrives and the report. */
  const sendAndWait = async (
    agentId: string,
    manifest: HostManifest,
  ): Promise<{ ms: number; report: ReportMessage }> => {
    const from = arrivals.length;
    msgSeq++;
    const t0 = performance.now();
    const sent = h.send(agentId, { v: 1, type: 'manifest', id: `bench-${msgSeq}`, mode: 'full', manifest });
    if (!sent) throw new Error(`agent ${agentId} is not connected`);
    const isAnswer = (a: Arrival) =>
      a.agentId === agentId && a.msg.manifestHash === manifest.hash && !a.msg.items.some((i) => i.drift);
    const deadline = t0 + REPORT_TIMEOUT_MS;
    for (;;) {
      const found = arrivals.slice(from).find(isAnswer);
      if (found) return { ms: found.at - t0, report: found.msg };
      if (performance.now() > deadline) throw new Error(`no report within ${REPORT_TIMEOUT_MS} ms`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  };

  for (let cycle = 0; cycle <= runs; cycle++) {
    const warmup = cycle === 0;
    const agentId = `bench-files-${cycle}`;
    const root = await mkdtemp(join(base, 'gse-bench-files-'));
    roots.push(root);
    agent = spawnNode([
      AGENT_MAIN,
      '--controller',
      url,
      '--insecure',
      '--token',
      BENCH_BOOTSTRAP_TOKEN,
      '--name',
      agentId,
      '--root',
      root,
      '--log-level',
      'warn',
    ]);
    const a = agent;
    // Connected, and its start-up event handled: the session is quiet.
    const up = await pollUntil(
      () => h.session(agentId) !== undefined && messages.some((m) => m.agentId === agentId),
      15_000,
      10,
    );
    if (!up) throw new Error(`agent did not connect: ${a.tail().slice(-5).join('\n')}`);
    await sleep(300);
    const { manifest } = planHost(revision, {
      id: agentId,
      name: agentId,
      ips: ['127.0.0.1'],
      cloudId: 0,
      labels: {},
    });

    const record = async (run: RunName, ms: number, report: ReportMessage) => {
      const n = report.items.filter((i) => i.state === 'changed').length;
      const v = await verify(root, manifest);
      verifications.push({ cycle, run, ...v });
      if (!warmup) {
        samples[run].push(ms);
        changed[run].push(n);
      }
      progress(`cycle ${cycle}${warmup ? ' (warm-up)' : ''} run ${run}`, {
        ms: round(ms, 1),
        changed: n,
        verified: v.ok,
      });
    };

    // (a) all new
    const ra = await sendAndWait(agentId, manifest);
    await record('a', ra.ms, ra.report);
    await sleep(500);

    // (b) nothing to change
    const rb = await sendAndWait(agentId, manifest);
    await record('b', rb.ms, rb.report);
    await sleep(500);

    // (c) `edited` files drifted by hand; wait until the agent reported them (selfHeal is off), then fix.
    const driftFrom = arrivals.length;
    const step = Math.max(1, Math.floor(count / edited));
    for (let k = 0; k < edited; k++) {
      await appendFile(join(root, DIR, fileName(1 + k * step)), `# edited by hand ${cycle}\n`);
    }
    const driftedKeys = () =>
      new Set(
        arrivals
          .slice(driftFrom)
          .filter((x) => x.agentId === agentId)
          .flatMap((x) => x.msg.items.filter((i) => i.drift).map((i) => i.name)),
      ).size;
    await pollUntil(() => driftedKeys() >= edited, 5_000, 10);
    driftReportsBeforeC.push(driftedKeys());
    await sleep(200);
    const rc = await sendAndWait(agentId, manifest);
    await record('c', rc.ms, rc.report);

    agentPeakMiB.push(a.peakRssMiB());
    await a.stop(10_000);
    agent = undefined;
    await removeDir(root);
  }

  const floor = await writeFloor(base, count, 3);
  const cfAgent = findCfAgent();
  const manifestForCf = planHost(revision, {
    id: 'cf',
    name: 'cf',
    ips: [],
    cloudId: 0,
    labels: {},
  }).manifest;
  const cfengine = cfAgent
    ? await cfengineRuns(cfAgent, base, manifestForCf, count, edited, runs)
    : undefined;
  const med = (r: RunName) => round(median(samples[r]) / 1000, 4);
  const medians = { a: med('a'), b: med('b'), c: med('c') };
  const ratio = (peer: { a: number; b: number; c: number }) => ({
    a: round(medians.a / peer.a, 3),
    b: round(medians.b / peer.b, 3),
    c: round(medians.c / peer.c, 3),
  });
  const result = {
    bench: 'files',
    count,
    runs,
    edited,
    selfHeal: false,
    root: onTmpfs ? 'tmpfs (/dev/shm)' : `disk (${tmpdir()})`,
    measuredFrom: 'hub.send(full manifest) -> report in the hub onMessage handler',
    medianSeconds: medians,
    samplesMs: {
      a: samples.a.map((v) => round(v, 1)),
      b: samples.b.map((v) => round(v, 1)),
      c: samples.c.map((v) => round(v, 1)),
    },
    changedReported: changed,
    driftReportedBeforeC: driftReportsBeforeC,
    peers: PEERS,
    ratioToCfengine: ratio(PEERS.cfengine),
    cfengineSameRun: cfengine
      ? {
          binary: cfAgent,
          medianSeconds: cfengine.medianSeconds,
          verified: cfengine.verified,
          ratio: ratio(cfengine.medianSeconds),
          aheadOfCfengine: {
            a: medians.a < cfengine.medianSeconds.a,
            b: medians.b < cfengine.medianSeconds.b,
            c: medians.c < cfengine.medianSeconds.c,
          },
        }
      : 'skipped: cf-agent not installed',
    ratioToPuppetApplyTime: ratio(PEERS.puppetApplyTime),
    verified: verifications.every((v) => v.ok),
    verificationFailures: verifications.filter((v) => !v.ok),
    agentPeakRssMiB: round(median(agentPeakMiB), 1),
    sameFsFloorMs: {
      [`${count}DurableWrites`]: floor.durableMs,
      [`${count}DurableWritesBatched`]: floor.batchedMs,
      [`${count}PlainWrites`]: floor.plainMs,
      note: 'durable = temp file, write, chmod, fsync, close, rename, fsync dir, one file after another; batched = the same with every temp fsynced concurrently and one dir fsync (no backup, no ownership ledger)',
    },
    loadAverage: loadAverage(),
    machine,
    node: process.version,
  };
  console.log(JSON.stringify(result));
}

runBench(main, async () => {
  await agent?.stop(5_000).catch(() => undefined);
  await hub?.close().catch(() => undefined);
  if (server) {
    const s = server;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
  for (const r of [...roots].reverse()) await removeDir(r);
});
