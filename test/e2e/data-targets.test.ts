/**
 * The data channel to a rotated file target (Kafka: test/e2e/kafka-broker.test.ts): a real controller on
 * a real git repo, a real agent process, records pushed with `gse-agent push`. Needs `npm run build`.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataRecord } from '../../src/protocol/messages.js';
import { AGENT_MAIN, pushRecords } from '../helpers/agent-process.js';
import {
  type RunningController,
  startController,
  TEST_BOOTSTRAP_TOKEN,
  waitFor,
} from '../helpers/controller.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const FILE_RECORDS = 600;
const ROTATE_MAX_BYTES = 4096;
const ROTATE_KEEP = 50;

const fileYaml = `
apiVersion: gse/v1
kind: StreamTarget
metadata: { name: archive }
spec:
  file:
    path: archive/records.jsonl
    rotate: { maxBytes: ${ROTATE_MAX_BYTES}, keep: ${ROTATE_KEEP} }
---
apiVersion: gse/v1
kind: Route
metadata: { name: logs-to-file }
spec:
  channel: logs
  targets: [{ name: archive }]
  batch: { maxRecords: 100, maxDelay: 20ms }
`;

/** The records in `path` and its rotated siblings `path.1`, `path.2`, ...; with each file's size. */
async function readRotated(path: string): Promise<{ records: DataRecord[]; sizes: number[] }> {
  const dir = join(path, '..');
  const base = path.slice(dir.length + 1);
  const names = (await readdir(dir)).filter((n) => n === base || /^\d+$/.test(n.slice(base.length + 1)));
  const records: DataRecord[] = [];
  const sizes: number[] = [];
  for (const n of names) {
    const file = join(dir, n);
    sizes.push((await stat(file)).size);
    for (const line of (await readFile(file, 'utf8')).split('\n')) {
      if (line) records.push(JSON.parse(line) as DataRecord);
    }
  }
  return { records, sizes };
}

describe('data channel to a file target', () => {
  let work: string;
  let repo: GitRepo;
  let ctl: RunningController;
  let agent: ChildProcess;
  let stateDir: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'gse-e2e-targets-'));
    repo = await gitRepo({
      'fleet/file.yaml': fileYaml,
    });
    ctl = await startController(repo.dir, { path: 'fleet' });
    await waitFor('routes applied', () => ctl.controller.data.current !== undefined);
    stateDir = join(work, 'agent', 'state');
    agent = spawn(
      process.execPath,
      [
        AGENT_MAIN,
        '--controller',
        ctl.agentUrl,
        '--ca',
        ctl.caFile ?? '',
        '--token',
        TEST_BOOTSTRAP_TOKEN,
        '--name',
        'e2e-file-1',
        '--state-dir',
        stateDir,
        '--root',
        join(work, 'agent', 'root'),
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  });

  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      const exited = new Promise((resolve) => agent.once('exit', resolve));
      agent.kill('SIGTERM');
      await exited;
    }
    await ctl?.cleanup();
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('keeps every record across the rotated files when the file target rotates', async () => {
    await waitFor('agent ingest socket', () => stat(join(stateDir, 'ingest.sock')).then(() => true));
    const lines = Array.from({ length: FILE_RECORDS }, (_, i) =>
      JSON.stringify({ seq: i, msg: `line ${i} ${'x'.repeat(40)}` }),
    );
    const r = await pushRecords(stateDir, lines, 'logs');
    expect(r.stderr).toContain(`pushed ${FILE_RECORDS} records`);
    expect(r.code).toBe(0);
    const path = join(ctl.stateDir, 'targets', 'archive', 'records.jsonl');
    const got = await waitFor(
      'every record in the rotated files',
      async () => {
        const files = await readRotated(path);
        return new Set(files.records.map((x) => x.rid)).size >= FILE_RECORDS ? files : undefined;
      },
      60_000,
    );
    const seqs = new Set(got.records.map((x) => (x.fields as { seq: number }).seq));
    expect(seqs.size).toBe(FILE_RECORDS);
    expect(got.records.every((x) => x.channel === 'logs' && x.host.name === 'e2e-file-1')).toBe(true);
    // It did rotate, into files no larger than the limit, and kept them all (fewer than `keep`).
    expect(got.sizes.length).toBeGreaterThan(10);
    expect(got.sizes.length).toBeLessThanOrEqual(ROTATE_KEEP + 1);
    expect(Math.max(...got.sizes)).toBeLessThanOrEqual(ROTATE_MAX_BYTES);
  });
});
