/**
 * `gsectl sync --dry-run [--host ID | --hosts SELECTOR] [--timeout T]`: asks each connected agent picked what
 * applying the manifest it should hold would change (`POST /api/v1/sync/dry-run`: the agent plans its converge
 * without writing and runs no onChange). Changes nothing. Exit 0 when no host would change, 1 when one would
 * or did not answer.
 */
import { ApiClient, clientOptions } from '../client.js';
import type { CommandInput } from '../commands.js';
import { parseDurationMs } from '../duration.js';
import type { CommandResult } from '../output.js';
import { hostHeader, type ResourceDiffView, renderResource } from './diff-render.js';

const DEFAULT_TIMEOUT_MS = 30_000;

interface DryRunView {
  hosts: Array<{
    hostId: string;
    name: string;
    ok: boolean;
    error?: string;
    message?: string;
    items: ResourceDiffView[];
    pruned?: string[];
  }>;
}

/** Runs the dry run and shows what each host would change. */
export async function run(input: CommandInput): Promise<CommandResult> {
  const host = typeof input.values.host === 'string' ? input.values.host : undefined;
  const selector = typeof input.values.hosts === 'string' ? input.values.hosts : undefined;
  if (host !== undefined && selector !== undefined)
    return { exitCode: 2, stderr: ['gsectl sync --dry-run: give --host ID or --hosts SELECTOR, not both'] };
  if (input.values.wait === true)
    return {
      exitCode: 2,
      stderr: ['gsectl sync --dry-run: --wait does not apply (a dry run changes nothing to wait for)'],
    };
  const timeoutText = typeof input.values.timeout === 'string' ? input.values.timeout : undefined;
  const timeoutMs = timeoutText === undefined ? DEFAULT_TIMEOUT_MS : parseDurationMs(timeoutText);
  if (timeoutMs === undefined)
    return {
      exitCode: 2,
      stderr: [`gsectl sync --dry-run: --timeout ${timeoutText}: expected e.g. 30s or 2m`],
    };
  const body = { ...(host ? { host } : selector ? { hosts: selector } : {}), timeoutMs };
  const view = await new ApiClient(clientOptions(input.values)).post<DryRunView>('sync/dry-run', body);
  const trouble = view.hosts.some((h) => !h.ok || h.items.length > 0);
  return { exitCode: trouble ? 1 : 0, data: view, table: () => renderDryRun(view) };
}

/** The human view: per host, what would change, with diffs. */
export function renderDryRun(view: DryRunView): string {
  if (view.hosts.length === 0) return 'Dry run: no connected host picked.';
  const out: string[] = [];
  for (const h of view.hosts) {
    if (out.length > 0) out.push('');
    out.push(hostHeader(h.hostId, h.name));
    if (!h.ok) out.push(`  no answer (${h.error}): ${h.message}`);
    else if (h.items.length === 0) out.push('  nothing would change');
    else for (const r of h.items) out.push(...renderResource(r));
  }
  const changing = view.hosts.filter((h) => h.ok && h.items.length > 0).length;
  out.push('', `Dry run: ${changing} of ${view.hosts.length} host(s) would change; nothing was changed.`);
  return out.join('\n');
}
