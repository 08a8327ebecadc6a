/**
 * A real single-node Apache Kafka broker (KRaft, broker and controller in one process) for the Kafka e2e
 * test and the routing bench, from the jars scripts/kafka/fetch.sh put in .cache/kafka/libs, on Java from
 * PATH. Where the jars or Java are missing, `kafkaAvailability()` says why, so the test reports itself
 * skipped and the bench prints that reason in place of a figure.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';

/** The repository root: the nearest directory up from here with a package.json (run from src or dist). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

const CACHE = join(repoRoot(), '.cache', 'kafka');
const LIBS = join(CACHE, 'libs');
/** A broker on a loaded 2-core machine takes 10-30 s to start (JVM, storage, controller election). */
const START_TIMEOUT_MS = 120_000;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** Polls `check` until it is true; a throw ends the wait at once. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export type KafkaAvailability = { ok: true } | { ok: false; reason: string };

/** Whether a broker can be started here, and why not when it cannot. */
export function kafkaAvailability(): KafkaAvailability {
  const marker = join(CACHE, 'UNAVAILABLE');
  if (existsSync(marker)) return { ok: false, reason: readFileSync(marker, 'utf8').trim() };
  const jars = existsSync(LIBS) ? readdirSync(LIBS) : [];
  if (!jars.some((j) => j.startsWith('kafka_2.13-')))
    return { ok: false, reason: `no Kafka jars in ${LIBS}: run scripts/kafka/fetch.sh (.ci/run does)` };
  return { ok: true };
}

export interface KafkaBroker {
  /** host:port to bootstrap from. */
  readonly brokers: string[];
  /** Stops the broker (SIGTERM, then waits for exit); its log dir is kept for `start`. */
  stop(): Promise<void>;
  /** Starts it again on the same ports and log dir, and waits until it answers. */
  start(): Promise<void>;
  /** Stops it and removes its dir. */
  cleanup(): Promise<void>;
  /** The tail of what the broker printed, for failure messages. */
  log(): string;
}

function properties(dir: string, port: number, controllerPort: number): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${join(dir, 'data')}`,
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    '',
  ].join('\n');
}

/** Runs `java -cp libs/* MAIN ARGS` to the end; rejects with its output when it fails. */
function runJava(main: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('java', ['-Xmx256m', '-cp', `${LIBS}/*`, main, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const keep = (b: Buffer) => {
      out = (out + b.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${main} exited ${code}: ${out}`)),
    );
  });
}

/** Whether the broker answers a metadata request. */
async function answers(brokers: string[]): Promise<boolean> {
  const admin = new Kafka({
    brokers,
    clientId: 'gse-test-probe',
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Formats a fresh log dir and starts the broker on free ports; resolves once it answers. */
export async function startKafka(): Promise<KafkaBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'gse-kafka-'));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const config = join(dir, 'server.properties');
  await writeFile(config, properties(dir, port, controllerPort));
  const clusterId = randomBytes(16).toString('base64url');
  await runJava('kafka.tools.StorageTool', ['format', '--cluster-id', clusterId, '--config', config]);
  const brokers = [`127.0.0.1:${port}`];
  let proc: ChildProcess | undefined;
  let out = '';
  const launch = async () => {
    const child = spawn('java', ['-Xmx512m', '-cp', `${LIBS}/*`, 'kafka.Kafka', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc = child;
    const keep = (b: Buffer) => {
      out = (out + b.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    await until(
      'the Kafka broker answering',
      async () => {
        if (child.exitCode !== null)
          throw new Error(`the Kafka broker exited ${child.exitCode}: ${out.slice(-3000)}`);
        return answers(brokers);
      },
      START_TIMEOUT_MS,
    );
  };
  const stop = async () => {
    const child = proc;
    proc = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
  await launch();
  return {
    brokers,
    stop,
    start: launch,
    async cleanup() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
    log: () => out,
  };
}
