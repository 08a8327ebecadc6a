/** Record builders for the store tests: valid by default, `i` spreads times one second apart. */
import type {
  AgentRecord,
  AuditRecord,
  DriftRecord,
  ExecutionRecord,
  HostRecord,
  Page,
  ResourceStatus,
  RevisionRecord,
} from '../../src/store/types.js';

const T0_MS = Date.parse('2024-05-01T00:00:00.000Z');
const SECOND_MS = 1_000;

/** The ISO time `i` seconds after the tests' epoch. */
export function at(i: number): string {
  return new Date(T0_MS + i * SECOND_MS).toISOString();
}

/** A zero-padded id, so text order is numeric order. */
export function pad(i: number): string {
  return String(i).padStart(4, '0');
}

export function agent(i: number, extra: Partial<AgentRecord> = {}): AgentRecord {
  return {
    agentId: `agent-${pad(i)}`,
    name: `host-${pad(i)}`,
    credentialHash: `sha256:${pad(i)}`,
    status: 'approved',
    enrolledAt: at(i),
    updatedAt: at(i),
    ...extra,
  };
}

export function revision(i: number, extra: Partial<RevisionRecord> = {}): RevisionRecord {
  return {
    sha: `sha-${pad(i)}`,
    author: 'Ada <ada@example.com>',
    authoredAt: at(i),
    message: `commit ${i}`,
    seenAt: at(i),
    status: 'accepted',
    errors: [],
    ...extra,
  };
}

export function host(i: number, extra: Partial<HostRecord> = {}): HostRecord {
  return {
    hostId: `host-${pad(i)}`,
    name: `web-${pad(i)}`,
    ips: [`10.0.0.${i % 250}`],
    cloudId: 0,
    labels: { role: i % 2 === 0 ? 'web' : 'db' },
    firstSeen: at(i),
    lastSeen: at(i),
    connected: true,
    syncState: 'Synced',
    ...extra,
  };
}

export function fullHost(i: number): HostRecord {
  return host(i, {
    os: 'linux',
    agentVersion: '1.2.3',
    labels: { role: 'web', 'app.kubernetes.io/name': 'nginx', zone: 'a=b' },
    facts: { cpus: 8, virtual: true, kernel: '6.1' },
    revision: 'sha-0001',
    desiredHash: 'd1',
    reportedHash: 'r1',
    lastReportAt: at(i + 1),
    retry: { attempts: 2, nextAt: at(i + 30) },
    syncState: 'OutOfSync',
    connected: false,
  });
}

export function status(hostId: string, name: string, extra: Partial<ResourceStatus> = {}): ResourceStatus {
  return {
    hostId,
    key: `ConfigFile/${name}`,
    kind: 'ConfigFile',
    name,
    hash: `h-${name}`,
    state: 'Synced',
    updatedAt: at(0),
    ...extra,
  };
}

export function drift(i: number, extra: Partial<DriftRecord> = {}): DriftRecord {
  return {
    id: `drift-${pad(i)}`,
    hostId: 'host-0001',
    key: 'ConfigFile/nginx',
    kind: 'corrective',
    revision: 'sha-0001',
    detectedAt: at(i),
    healed: false,
    detail: 'content changed on disk',
    ...extra,
  };
}

export function execution(i: number, extra: Partial<ExecutionRecord> = {}): ExecutionRecord {
  return {
    id: `task-${pad(i)}`,
    hostId: 'host-0001',
    reason: 'adhoc',
    command: 'uptime',
    status: 'succeeded',
    exitCode: 0,
    signal: null,
    stdoutTail: 'up 3 days',
    stderrTail: '',
    startedAt: at(i),
    finishedAt: at(i + 1),
    durationMs: 1_000,
    timedOut: false,
    killed: false,
    ...extra,
  };
}

export function audit(i: number, extra: Partial<AuditRecord> = {}): AuditRecord {
  return {
    id: `audit-${pad(i)}`,
    at: at(i),
    actor: 'alice',
    action: 'sync',
    target: `host-${pad(i)}`,
    ...extra,
  };
}

/** Every item of a listing, following cursors page by page. */
export async function collectPages<T>(
  list: (cursor: string | undefined) => Promise<Page<T>>,
): Promise<{ items: T[]; pages: number[] }> {
  const items: T[] = [];
  const pages: number[] = [];
  let cursor: string | undefined;
  do {
    const page = await list(cursor);
    items.push(...page.items);
    pages.push(page.items.length);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return { items, pages };
}
