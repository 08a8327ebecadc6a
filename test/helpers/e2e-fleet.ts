/** Shared pieces of the fleet e2e tests: spec builders, API shapes, waits on the controller, spool reading. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type RunningController, waitFor } from './controller.js';

export interface ConfigFileSpec {
  name: string;
  path: string;
  content?: string;
  source?: string;
  template?: boolean;
  mode?: string;
  hosts?: string;
  onChange?: { run: string; timeout?: string };
  syncPolicy?: { selfHeal?: boolean; prune?: boolean };
}

/** One ConfigFile document (JSON is valid YAML, so values are quoted exactly). */
export function configFileYaml(spec: ConfigFileSpec): string {
  const body: Record<string, unknown> = {
    hosts: { names: [spec.hosts ?? '*'] },
    path: spec.path,
  };
  if (spec.content !== undefined) body.content = spec.content;
  if (spec.source !== undefined) body.source = spec.source;
  if (spec.template !== undefined) body.template = spec.template;
  if (spec.mode !== undefined) body.mode = spec.mode;
  if (spec.onChange !== undefined) body.onChange = spec.onChange;
  if (spec.syncPolicy !== undefined) body.syncPolicy = spec.syncPolicy;
  return [
    'apiVersion: gse/v1',
    'kind: ConfigFile',
    `metadata: ${JSON.stringify({ name: spec.name })}`,
    `spec: ${JSON.stringify(body)}`,
    '',
  ].join('\n');
}

export interface HostRow {
  hostId: string;
  name: string;
  connected: boolean;
  syncState: string;
  revision?: string;
  desiredHash?: string;
  reportedHash?: string;
}

export interface DriftRow {
  id: string;
  hostId: string;
  key: string;
  kind: 'corrective' | 'intentional';
  revision: string;
  detectedAt: string;
  healed: boolean;
  detail: string;
}

export interface ExecutionRow {
  id: string;
  hostId: string;
  reason: string;
  resource?: string;
  command: string;
  status: string;
  exitCode: number | null;
  timedOut: boolean;
  killed: boolean;
  stdoutTail: string;
  stderrTail: string;
}

export interface StatusBody {
  revision: {
    applied: { sha: string } | null;
    lastRejected: { sha: string; errors: Array<{ file: string; path: string; message: string }> } | null;
  };
}

interface Page<T> {
  items: T[];
  nextCursor?: string;
}

async function all<T>(ctl: RunningController, path: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const url = `${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const { status, body } = await ctl.api<Page<T>>(url);
    if (status !== 200) throw new Error(`GET ${url}: ${status} ${JSON.stringify(body)}`);
    out.push(...body.items);
    cursor = body.nextCursor;
  } while (cursor);
  return out;
}

/** Every host the controller lists. */
export const listHosts = (ctl: RunningController) => all<HostRow>(ctl, '/api/v1/hosts');
/** Every drift record (optionally of one host). */
export const listDrift = (ctl: RunningController, host?: string) =>
  all<DriftRow>(ctl, `/api/v1/drift${host ? `?host=${encodeURIComponent(host)}` : ''}`);
/** Every execution record (optionally of one host). */
export const listExecutions = (ctl: RunningController, host?: string) =>
  all<ExecutionRow>(ctl, `/api/v1/executions${host ? `?host=${encodeURIComponent(host)}` : ''}`);

/** Waits until each of `hostIds` is connected, Synced and has reported revision `sha` (when given). */
export async function waitSynced(
  ctl: RunningController,
  hostIds: string[],
  sha?: string,
  timeoutMs = 20_000,
): Promise<HostRow[]> {
  return waitFor(
    `${hostIds.join(', ')} Synced${sha ? ` on ${sha.slice(0, 12)}` : ''}`,
    async () => {
      const hosts = await listHosts(ctl);
      const rows = hostIds.map((id) => hosts.find((h) => h.hostId === id));
      const ok = rows.every(
        (h) => h?.connected && h.syncState === 'Synced' && (sha === undefined || h.revision === sha),
      );
      return ok ? (rows as HostRow[]) : undefined;
    },
    timeoutMs,
  );
}

/** Waits until the controller has applied revision `sha`. */
export async function waitApplied(ctl: RunningController, sha: string): Promise<void> {
  await waitFor(`revision ${sha.slice(0, 12)} applied`, async () => {
    const { body } = await ctl.api<StatusBody>('/api/v1/status');
    return body.revision.applied?.sha === sha;
  });
}

/** A message the agent spooled and the controller has not acked. */
export interface PendingSpoolRecord {
  seq: number;
  id: string;
  type: string;
}

/**
 * The un-acked records of an agent's spool, read from its files without opening it for writing (the agent may
 * be running): segment records whose sequence is not in `acks.log`. A torn or partly written last line is
 * skipped, as the spool itself would.
 */
export async function pendingSpoolRecords(stateDir: string): Promise<PendingSpoolRecord[]> {
  const dir = join(stateDir, 'spool');
  const names = await readdir(dir);
  const parse = (text: string): unknown[] =>
    text.split('\n').flatMap((line) => {
      const json = line.slice(9);
      try {
        return [JSON.parse(json) as unknown];
      } catch {
        return [];
      }
    });
  const acked = new Set<number>();
  if (names.includes('acks.log')) {
    for (const v of parse(await readFile(join(dir, 'acks.log'), 'utf8')))
      if (Array.isArray(v)) for (const s of v) if (typeof s === 'number') acked.add(s);
  }
  const pending: PendingSpoolRecord[] = [];
  for (const name of names.filter((n) => n.startsWith('seg-')).sort()) {
    for (const v of parse(await readFile(join(dir, name), 'utf8'))) {
      const r = v as { s?: number; i?: string; m?: { type?: string } };
      if (typeof r.s === 'number' && !acked.has(r.s))
        pending.push({ seq: r.s, id: r.i ?? '', type: r.m?.type ?? '' });
    }
  }
  return pending;
}

/**
 * True when `pid` no longer runs: `kill(pid, 0)` fails, or it is a zombie (dead, waiting to be reaped; in
 * some containers PID 1 never reaps orphans).
 */
/** The live pids whose whole command line is `argv` (from /proc): a test's own uniquely-argued processes. */
export async function pidsRunning(argv: readonly string[]): Promise<number[]> {
  const want = `${argv.join('\0')}\0`;
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline === want && !(await processGone(Number(entry)))) pids.push(Number(entry));
  }
  return pids;
}

export async function processGone(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (stat === '') return true;
  return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

/** Keys (`id@host`) that occur more than once. */
export function duplicates(rows: Array<{ id: string; hostId: string }>): string[] {
  const seen = new Map<string, number>();
  for (const r of rows) seen.set(`${r.id}@${r.hostId}`, (seen.get(`${r.id}@${r.hostId}`) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([k]) => k);
}
