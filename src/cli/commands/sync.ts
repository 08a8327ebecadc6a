/** `gsectl sync [--host ID | --hosts SELECTOR] [--wait] [--timeout T]`: fetch Git and reconcile now; optionally wait for convergence. */
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient, clientOptions } from '../client.js';
import type { CommandInput } from '../commands.js';
import { parseDurationMs } from '../duration.js';
import type { CommandResult } from '../output.js';
import { ProgressLine } from '../progress.js';

const POLL_INTERVAL_MS = 250;
const DEFAULT_TIMEOUT_MS = 120_000;

interface HostRow {
  hostId: string;
  syncState: string;
  connected: boolean;
}

/** Triggers a sync; with --wait, shows a progress bar on stderr (plain lines when not a terminal) until every connected host is Synced. */
export async function run(input: CommandInput): Promise<CommandResult> {
  if (input.values['dry-run'] === true) return (await import('./sync-dry-run.js')).run(input);
  const client = new ApiClient(clientOptions(input.values));
  const host = typeof input.values.host === 'string' ? input.values.host : undefined;
  const selector = typeof input.values.hosts === 'string' ? input.values.hosts : undefined;
  if (host !== undefined && selector !== undefined)
    return { exitCode: 2, stderr: ['gsectl sync: give --host ID or --hosts SELECTOR, not both'] };
  const timeoutText = typeof input.values.timeout === 'string' ? input.values.timeout : undefined;
  const timeoutMs = timeoutText === undefined ? DEFAULT_TIMEOUT_MS : parseDurationMs(timeoutText);
  if (timeoutMs === undefined)
    return { exitCode: 2, stderr: [`gsectl sync: --timeout ${timeoutText}: expected e.g. 60s or 5m`] };
  const started = await client.post<{ revision: string | null; hosts: string[] }>(
    'sync',
    host ? { host } : selector ? { hosts: selector } : {},
  );
  if (input.values.wait !== true) {
    return {
      exitCode: 0,
      data: started,
      table: () =>
        `sync requested: revision ${started.revision?.slice(0, 12) ?? 'none'}, ${started.hosts.length} host(s)`,
    };
  }
  const deadline = Date.now() + timeoutMs;
  const progress = new ProgressLine(process.stderr);
  for (;;) {
    const rows = await allHosts(client);
    const relevant = rows.filter(
      (h) => h.connected && (selector ? started.hosts.includes(h.hostId) : !host || h.hostId === host),
    );
    const synced = relevant.filter((h) => h.syncState === 'Synced').length;
    const failed = relevant.filter((h) => h.syncState === 'Failed').map((h) => h.hostId);
    const failedText = failed.length ? `failed: ${failed.join(', ')}` : '';
    progress.update(synced, relevant.length, 'converged', failedText);
    if (synced === relevant.length || failed.length > 0 || Date.now() > deadline) {
      progress.end();
      const line = `converged ${synced}/${relevant.length}${failedText ? `, ${failedText}` : ''}`;
      const ok = synced === relevant.length;
      return {
        exitCode: ok ? 0 : 1,
        data: { revision: started.revision, synced, total: relevant.length, failed },
        table: () =>
          ok
            ? `Synced: ${synced}/${relevant.length} hosts on ${started.revision?.slice(0, 12) ?? '-'}`
            : `Not converged: ${line}`,
      };
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

async function allHosts(client: ApiClient): Promise<HostRow[]> {
  const rows: HostRow[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.get<{ items: HostRow[]; nextCursor?: string }>(
      `hosts?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    rows.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return rows;
}
