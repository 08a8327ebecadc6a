/**
 * `gsectl diff [--host ID]`: per host, every resource not Synced and what differs (a unified diff of the desired
 * file against what the agent last reported, or mode, owner, size/hash and process lines).
 * `gsectl diff --tree DIR` previews an uncommitted tree instead (diff-tree.ts).
 */
import { ApiClient, clientOptions } from '../client.js';
import type { CommandInput } from '../commands.js';
import type { CommandResult } from '../output.js';
import { hostHeader, type ResourceDiffView, renderResource } from './diff-render.js';

interface DiffView {
  items: Array<{ hostId: string; name?: string; resources: ResourceDiffView[] }>;
}

/** Exit 0 when nothing differs, 1 when something does (like `diff`). */
export async function run(input: CommandInput): Promise<CommandResult> {
  if (typeof input.values.tree === 'string') return (await import('./diff-tree.js')).run(input);
  const host = typeof input.values.host === 'string' ? `?host=${encodeURIComponent(input.values.host)}` : '';
  const d = await new ApiClient(clientOptions(input.values)).get<DiffView>(`diff${host}`);
  const differs = d.items.some((h) => h.resources.length > 0);
  return { exitCode: differs ? 1 : 0, data: d, table: () => renderDiff(d) };
}

/** The human view: a block per host, a line per resource, its changes and diff indented under it. */
export function renderDiff(d: DiffView): string {
  if (!d.items.some((h) => h.resources.length > 0)) return 'No differences: every resource is Synced.';
  const out: string[] = [];
  for (const h of d.items) {
    if (h.resources.length === 0) continue;
    if (out.length > 0) out.push('');
    out.push(hostHeader(h.hostId, h.name));
    for (const r of h.resources) out.push(...renderResource(r));
  }
  return out.join('\n');
}
