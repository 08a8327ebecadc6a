/** `gsectl get KIND`: listings from the API, as a table, JSON or YAML. */
import { ApiClient, clientOptions } from '../client.js';
import type { CommandInput } from '../commands.js';
import { parseDurationMs } from '../duration.js';
import { type CommandResult, renderTable } from '../output.js';

type Row = Record<string, unknown>;
type Cell = string | number | boolean | undefined;

const short = (v: unknown, n = 12): string | undefined => (typeof v === 'string' ? v.slice(0, n) : undefined);
const ago = (iso: unknown): string | undefined => {
  if (typeof iso !== 'string') return undefined;
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
};
const labels = (v: unknown): string =>
  Object.entries((v ?? {}) as Record<string, string>)
    .map(([k, x]) => `${k}=${x}`)
    .join(',');

interface Listing {
  path: string;
  headers: string[];
  row(r: Row): Cell[];
}

const LISTINGS: Record<string, Listing> = {
  hosts: {
    path: 'hosts',
    headers: ['host', 'state', 'connected', 'ips', 'revision', 'last seen', 'labels'],
    row: (r) => [
      r.hostId as string,
      r.syncState as string,
      r.connected as boolean,
      (r.ips as string[]).join(','),
      short(r.revision),
      ago(r.lastSeen),
      labels(r.labels),
    ],
  },
  resources: {
    path: 'resources',
    headers: ['host', 'resource', 'state', 'message'],
    row: (r) => [r.hostId as string, r.key as string, r.state as string, r.message as string | undefined],
  },
  drift: {
    path: 'drift',
    headers: ['detected', 'host', 'resource', 'kind', 'healed', 'detail'],
    row: (r) => [
      ago(r.detectedAt),
      r.hostId as string,
      r.key as string,
      r.kind as string,
      r.healed as boolean,
      r.detail as string,
    ],
  },
  executions: {
    path: 'executions',
    headers: ['started', 'host', 'task', 'reason', 'status', 'decision', 'exit', 'ms'],
    row: (r) => [
      ago(r.startedAt),
      r.hostId as string,
      r.remediation ? (r.id as string) : short(r.id, 8),
      r.reason as string,
      r.status as string,
      (r.remediation as { decision?: string } | undefined)?.decision,
      r.exitCode as number | undefined,
      r.durationMs as number | undefined,
    ],
  },
  revisions: {
    path: 'revisions',
    headers: ['sha', 'status', 'seen', 'author', 'message', 'errors'],
    row: (r) => [
      short(r.sha),
      r.status as string,
      ago(r.seenAt),
      r.author as string,
      r.message as string,
      (r.errors as unknown[]).length,
    ],
  },
  agents: {
    path: 'agents',
    headers: ['agent', 'name', 'status', 'state', 'enrolled'],
    row: (r) => [
      r.agentId as string,
      r.name as string,
      r.status as string,
      r.state as string,
      ago(r.enrolledAt),
    ],
  },
  routes: {
    path: 'routes',
    headers: ['route', 'channel', 'targets', 'format', 'in', 'out', 'filtered'],
    row: (r) => [
      r.name as string,
      r.channel as string,
      (r.targets as string[]).join(','),
      r.format as string,
      r.in as number,
      r.out as number,
      r.filtered as number,
    ],
  },
  targets: {
    path: 'targets',
    headers: ['target', 'type', 'connected', 'spool', 'lag ms', 'written', 'last error'],
    row: (r) => [
      r.name as string,
      r.type as string,
      r.connected as boolean,
      r.spoolDepth as number,
      r.lagMs as number,
      r.written as number,
      r.lastError as string | undefined,
    ],
  },
  audit: {
    path: 'audit',
    headers: ['at', 'actor', 'action', 'status', 'detail'],
    row: (r) => [
      r.at as string,
      r.actor as string,
      r.action as string,
      r.status as number | undefined,
      r.detail === undefined ? undefined : JSON.stringify(r.detail).slice(0, 80),
    ],
  },
};

/** `--since 1h` (a duration back from now) as the ISO time the API takes; other text is passed as is. */
export function sinceToIso(text: string, now = Date.now()): string {
  const ms = parseDurationMs(text);
  return ms === undefined ? text : new Date(now - ms).toISOString();
}

export const GET_KINDS = Object.keys(LISTINGS);

/** Lists KIND with the filters given as flags. */
export async function run(input: CommandInput): Promise<CommandResult> {
  const kind = input.positionals[0];
  const listing = kind ? LISTINGS[kind] : undefined;
  if (!listing)
    return {
      exitCode: 2,
      stderr: [`gsectl get: expected one of ${GET_KINDS.join(', ')}${kind ? `, got "${kind}"` : ''}`],
    };
  const q = new URLSearchParams();
  const flagToParam: Record<string, string> = {
    host: 'host',
    resource: 'resource',
    remediation: 'remediation',
    since: 'since',
    state: 'syncState',
    selector: 'labels',
    hosts: 'hosts',
    limit: 'limit',
    actor: 'actor',
  };
  for (const [flag, param] of Object.entries(flagToParam)) {
    const v = input.values[flag];
    if (typeof v !== 'string') continue;
    q.set(
      kind === 'resources' && param === 'syncState' ? 'state' : param,
      param === 'since' ? sinceToIso(v) : v,
    );
  }
  if ((q.has('labels') || q.has('hosts')) && kind !== 'hosts')
    return {
      exitCode: 2,
      stderr: [`gsectl get ${kind}: --hosts/-l select hosts; use them with gsectl get hosts`],
    };
  const qs = q.toString();
  const page = await new ApiClient(clientOptions(input.values)).get<{ items: Row[]; nextCursor?: string }>(
    `${listing.path}${qs ? `?${qs}` : ''}`,
  );
  return {
    exitCode: 0,
    data: page,
    table: () => {
      const table = renderTable(listing.headers, page.items.map(listing.row));
      return page.nextCursor ? `${table}\n(more: --limit, or the API's cursor=${page.nextCursor})` : table;
    },
  };
}
