#!/usr/bin/env node
// `npm run test:security`: runs test/security (one case per attack, each must end refused with the fleet
// still working) and prints `attacks tried N, refused N` from vitest's JSON report. Exit 1 unless all refused.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'gse-security-'));
const report = join(dir, 'report.json');
const run = spawnSync(
  'npx',
  ['vitest', 'run', 'test/security', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`],
  { stdio: 'inherit' },
);
let tried = 0;
let refused = 0;
try {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  tried = r.numTotalTests - (r.numPendingTests ?? 0) - (r.numTodoTests ?? 0);
  refused = r.numPassedTests;
} catch {
  console.error('no test report written');
}
rmSync(dir, { recursive: true, force: true });
console.log(`attacks tried ${tried}, refused ${refused}`);
process.exit(run.status === 0 && tried > 0 && tried === refused ? 0 : 1);
