/**
 * The Kafka target against a real single-node Apache Kafka broker (KRaft; jars from the Maven registry by
 * scripts/kafka/fetch.sh, Java 17 from Debian): a real controller on a real git repo, a real agent process,
 * records pushed with `gse-agent push`, and the broker stopped in the middle for OUTAGE_MS.
 * What must hold: every record pushed reaches the topic (none lost); a record may arrive twice
 * (at-least-once: a batch cut by the outage is sent again) but every message carries its record id (the
 * `rid` header) for the consumer to dedupe on, and duplicates stay within the batches in flight; the target
 * reports the outage (spooled records, an error) while it lasts and clears its error once it recovers.
 * Where no broker can start here (no Java, or the Maven registry does not serve the jars), the test is
 * skipped and says why. Needs `npm run build`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_MAIN, pushRecords } from '../helpers/agent-process.js';
import {
  type RunningController,
  startController,
  TEST_BOOTSTRAP_TOKEN,
  waitFor,
} from '../helpers/controller.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { type KafkaBroker, kafkaAvailability, startKafka } from '../helpers/kafka-broker.js';

const TOPIC = 'gse-e2e-records';
const CHANNEL = 'kmetrics';
/** Records in all, pushed in CHUNKS pushes: a third before, a third during and a third after the outage. */
const RECORDS = 1_500;
const CHUNKS = 15;
const BATCH = 100;
/** How long the broker is down. */
const OUTAGE_MS = 8_000;
/** Bound for "every record arrived" once the broker is back; a bound, not a speed figure. */
const ARRIVAL_TIMEOUT_MS = 120_000;
const availability = kafkaAvailability();

const fleetYaml = (brokers: string[]) => `
apiVersion: gse/v1
kind: StreamTarget
metadata: { name: kafka-out }
spec:
  kafka: { brokers: ${JSON.stringify(brokers)}, topic: ${TOPIC}, clientId: gse-e2e }
---
apiVersion: gse/v1
kind: Route
metadata: { name: metrics-to-kafka }
spec:
  channel: ${CHANNEL}
  targets: [{ name: kafka-out }]
  batch: { maxRecords: ${BATCH}, maxDelay: 20ms }
`;

interface TargetRow {
  name: string;
  lastError?: string;
  spooled: number;
  spoolDepth: number;
}

describe('Kafka target on a real broker', () => {
  let work: string;
  let broker: KafkaBroker | undefined;
  let repo: GitRepo;
  let ctl: RunningController;
  let agent: ChildProcess;
  let stateDir: string;

  beforeAll(async () => {
    if (!availability.ok) return;
    work = await mkdtemp(join(tmpdir(), 'gse-e2e-kafka-'));
    broker = await startKafka();
    const admin = new Kafka({
      brokers: broker.brokers,
      clientId: 'gse-e2e-admin',
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    repo = await gitRepo({ 'fleet/kafka.yaml': fleetYaml(broker.brokers) });
    ctl = await startController(repo.dir, { path: 'fleet' });
    await waitFor('routes applied', () => ctl.controller.data.current !== undefined);
    stateDir = join(work, 'agent', 'state');
    agent = spawn(
      process.execPath,
      [
        AGENT_MAIN,
        ...['--controller', ctl.agentUrl, '--ca', ctl.caFile ?? '', '--token', TEST_BOOTSTRAP_TOKEN],
        ...['--name', 'e2e-kafka-1', '--state-dir', stateDir, '--root', join(work, 'agent', 'root')],
        ...['--log-level', 'warn'],
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    await waitFor('agent ingest socket', () => stat(join(stateDir, 'ingest.sock')).then(() => true), 60_000);
  }, 300_000);

  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      const exited = new Promise((resolve) => agent.once('exit', resolve));
      agent.kill('SIGTERM');
      await exited;
    }
    await ctl?.cleanup();
    await broker?.cleanup();
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('delivers every record through a broker outage, with rids to dedupe the at-least-once repeats', async (ctx) => {
    if (!availability.ok) {
      console.warn(`Kafka e2e skipped: ${availability.reason}`);
      ctx.skip(`no Kafka broker here: ${availability.reason}`);
      return;
    }
    const kafkaBroker = broker as KafkaBroker;
    const target = async () => {
      const r = await ctl.request('/api/v1/targets');
      return (JSON.parse(r.text) as { items: TargetRow[] }).items.find((t) => t.name === 'kafka-out');
    };
    const per = RECORDS / CHUNKS;
    const pushChunk = async (c: number) => {
      const lines = Array.from({ length: per }, (_, i) => JSON.stringify({ seq: c * per + i }));
      const r = await pushRecords(stateDir, lines, CHANNEL);
      expect(r.code, r.stderr).toBe(0);
    };

    const seen = new Map<string, number>();
    const seqs = new Set<number>();
    let withoutRid = 0;
    const consumer = new Kafka({
      brokers: kafkaBroker.brokers,
      clientId: 'gse-e2e-consumer',
      logLevel: logLevel.NOTHING,
    }).consumer({ groupId: 'gse-e2e-check' });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const rid = message.headers?.rid?.toString();
        if (!rid) withoutRid++;
        else seen.set(rid, (seen.get(rid) ?? 0) + 1);
        const rec = JSON.parse(message.value?.toString() ?? '{}') as { fields?: { seq?: number } };
        if (typeof rec.fields?.seq === 'number') seqs.add(rec.fields.seq);
      },
    });
    try {
      for (let c = 0; c < CHUNKS / 3; c++) await pushChunk(c);
      await waitFor('the first third in Kafka', () => seqs.size >= RECORDS / 3, ARRIVAL_TIMEOUT_MS);

      await kafkaBroker.stop();
      const downAt = Date.now();
      for (let c = CHUNKS / 3; c < (2 * CHUNKS) / 3; c++) await pushChunk(c);
      // The agent was acked (push exited 0): the records wait in the controller's spool.
      const during = await waitFor(
        'the outage seen by the target',
        async () => {
          const t = await target();
          return t?.lastError && t.spoolDepth > 0 ? t : undefined;
        },
        60_000,
      );
      expect(during.spooled).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - downAt))));
      await kafkaBroker.start();

      for (let c = (2 * CHUNKS) / 3; c < CHUNKS; c++) await pushChunk(c);
      await waitFor('every record in Kafka', () => seqs.size >= RECORDS, ARRIVAL_TIMEOUT_MS);
      const after = await waitFor(
        'the target recovered',
        async () => {
          const t = await target();
          return t && t.spoolDepth === 0 && t.lastError === undefined ? t : undefined;
        },
        60_000,
      );
      expect(after.lastError).toBeUndefined();
    } finally {
      await consumer.disconnect();
    }

    expect(seqs.size).toBe(RECORDS);
    expect(seen.size).toBe(RECORDS);
    expect(withoutRid).toBe(0);
    const duplicates = [...seen.values()].reduce((n, k) => n + k - 1, 0);
    console.log(
      `kafka e2e: ${RECORDS} records, ${duplicates} delivered twice (at-least-once), outage ${OUTAGE_MS} ms`,
    );
    // Only batches in flight when the broker went away may be sent again.
    expect(duplicates).toBeLessThanOrEqual(4 * BATCH);
  }, 600_000);
});
