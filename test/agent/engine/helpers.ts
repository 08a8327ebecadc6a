/** Shared helpers of the engine tests: sandboxes, bounded polling, clocks, manifest item builders. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConvergeDeps } from '../../../agent/engine/converge.js';
import { type Clock, systemClock } from '../../../agent/engine/deps.js';
import { runScript } from '../../../agent/engine/exec.js';
import { OwedOnChanges } from '../../../agent/engine/owed-onchange.js';
import { OwnershipLedger } from '../../../agent/engine/ownership.js';
import type {
  HostManifest,
  ManifestConfigFile,
  ManifestItem,
  ManifestProcessWatch,
} from '../../../src/protocol/manifest.js';
import type { EventMessage } from '../../../src/protocol/messages.js';

export interface Sandbox {
  dir: string;
  cleanup(): Promise<void>;
}

/** A fresh temp directory. */
export async function sandbox(prefix = 'gse-engine-'): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Converge deps on real disk: host root `<dir>/root`, state dir `<dir>/state`, scripts run by the system clock. */
export async function convergeDepsIn(dir: string): Promise<ConvergeDeps> {
  const stateDir = join(dir, 'state');
  return {
    root: join(dir, 'root'),
    stateDir,
    clock: systemClock,
    ownership: await OwnershipLedger.open(join(stateDir, 'owned.json')),
    owed: await OwedOnChanges.open(join(stateDir, 'onchange-owed.json')),
    run: (spec) =>
      runScript(spec, { clock: systemClock, baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }),
  };
}

/** Polls `cond` every `intervalMs` until true; throws after `timeoutMs` (a bound, not an assertion on time). */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what: string,
  { timeoutMs = 10_000, intervalMs = 20 } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A clock that advances 1 ms per read, from `start`. */
export function steppingClock(start = Date.UTC(2024, 0, 1)): Clock {
  let t = start;
  return { now: () => t++ };
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A ConfigFile item with a consistent contentHash. */
export function configFile(
  name: string,
  path: string,
  content: string,
  extra: Partial<ManifestConfigFile> = {},
): ManifestConfigFile {
  return {
    kind: 'ConfigFile',
    name,
    hash: sha256(`${name}|${path}|${content}|${JSON.stringify(extra)}`),
    path,
    content,
    encoding: 'utf8',
    contentHash: sha256(content),
    mode: 0o644,
    selfHeal: true,
    prune: true,
    ...extra,
  };
}

/** A ProcessWatch item. */
export function processWatch(
  name: string,
  proc: ManifestProcessWatch['process'],
  extra: Partial<ManifestProcessWatch> = {},
): ManifestProcessWatch {
  return {
    kind: 'ProcessWatch',
    name,
    hash: sha256(`${name}|${JSON.stringify(proc)}|${JSON.stringify(extra)}`),
    process: proc,
    ensure: 'observed',
    probeIntervalMs: 100,
    ...extra,
  };
}

/** A manifest holding `items`. */
export function manifest(items: ManifestItem[], revision = 'r1'): HostManifest {
  return {
    hostId: 'h1',
    revision,
    labels: {},
    items,
    hash: sha256(items.map((i) => i.hash).join(',')),
  };
}

/** A small spooled event message. */
export function eventMessage(i: number): EventMessage {
  return {
    v: 1,
    type: 'event',
    id: `ev-${i}`,
    event: { type: 'process.down', time: '2024-01-01T00:00:00.000Z', fields: { i } },
  };
}

/** True while `pid` exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
