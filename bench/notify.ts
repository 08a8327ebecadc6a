/**
 * `npm run bench -- notify [--runs 200] [--burst 2000]`
 *
 * Notification delivery with the real parts: the on-disk queue (fsynced per delivery) in a temp dir, the
 * delivery worker and a real HTTP receiver on 127.0.0.1 that verifies every signature. Prints the latency
 * from `outcome()` to the receiver holding the verified body (median and p95 of `--runs` sequential
 * outcomes), how long `outcome()` itself takes (the durable hand-off the hot path waits for), and the
 * throughput of a burst of `--burst` outcomes to one URL (one request in flight, in order). One JSON object
 * as the last line.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Notifier } from '../src/notify/notifier.js';
import { verifySignature } from '../src/notify/sign.js';
import { intArg, loadAverage, median, removeDir, round, runBench } from './_lib/util.js';

const SECRET = 'bench-notify-secret-0123456789abcdef';
let dir: string | undefined;
let notifier: Notifier | undefined;
let close: (() => void) | undefined;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function main(): Promise<void> {
  const runs = intArg('runs', 200);
  const burst = intArg('burst', 2000);
  const waiting = new Map<number, () => void>();
  let bad = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      if (!verifySignature(raw, SECRET, req.headers['x-gse-signature'] as string | undefined)) bad++;
      const n = (JSON.parse(raw.toString()) as { n: number }).n;
      res.writeHead(204).end();
      waiting.get(n)?.();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  close = () => server.close();
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  dir = await mkdtemp(join(tmpdir(), 'gse-bench-notify-'));
  notifier = await Notifier.open({
    dir,
    resolveSecret: async () => SECRET,
    hostMatches: () => true,
    now: Date.now,
    newId: randomUUID,
  });
  notifier.setNotifications([
    {
      apiVersion: 'gse/v1',
      kind: 'Notification',
      metadata: { name: 'bench' },
      spec: { on: ['execution.finished'], url, secretFrom: { env: 'X' } },
      pos: { file: 'b.yaml', line: 1, col: 1 },
    },
  ]);
  notifier.start();
  const n0 = notifier;
  const arrived = (n: number) => new Promise<void>((r) => waiting.set(n, r));

  const latency: number[] = [];
  const handOff: number[] = [];
  for (let i = 0; i < runs; i++) {
    const got = arrived(i);
    const t0 = performance.now();
    await n0.outcome({ type: 'execution.finished', host: 'h1', n: i });
    handOff.push(performance.now() - t0);
    await got;
    latency.push(performance.now() - t0);
  }

  const last = runs + burst - 1;
  const done = arrived(last);
  const t0 = performance.now();
  for (let i = runs; i <= last; i++) await n0.outcome({ type: 'execution.finished', host: 'h1', n: i });
  await done;
  const burstSeconds = (performance.now() - t0) / 1000;

  console.log(
    JSON.stringify({
      bench: 'notify',
      runs,
      deliveryLatencyMs: { median: round(median(latency)), p95: round(percentile(latency, 95)) },
      durableHandOffMs: { median: round(median(handOff)), p95: round(percentile(handOff, 95)) },
      burst: { deliveries: burst, seconds: round(burstSeconds), perSecond: Math.round(burst / burstSeconds) },
      badSignatures: bad,
      loadAverage: loadAverage(),
    }),
  );
}

runBench(main, async () => {
  await notifier?.stop();
  close?.();
  await removeDir(dir);
});
