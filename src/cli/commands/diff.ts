/** `gsectl diff [--host ID]`: the resources not yet Synced on hosts, i.e. what would change now. */
import { ApiClient, clientOptions } from '../client.js';
import type { CommandInput } from '../commands.js';
import { type CommandResult, renderTable } from '../output.js';

interface DiffView {
  items: Array<{ hostId: string; resources: Array<{ key: string; state: string; message?: string }> }>;
}

/** Exit 0 when nothing differs, 1 when something does (like `diff`). */
export async function run(input: CommandInput): Promise<CommandResult> {
  const host = typeof input.values.host === 'string' ? `?host=${encodeURIComponent(input.values.host)}` : '';
  const d = await new ApiClient(clientOptions(input.values)).get<DiffView>(`diff${host}`);
  const rows = d.items.flatMap((h) => h.resources.map((r) => [h.hostId, r.key, r.state, r.message]));
  return {
    exitCode: rows.length > 0 ? 1 : 0,
    data: d,
    table: () =>
      rows.length === 0
        ? 'No differences: every resource is Synced.'
        : renderTable(['host', 'resource', 'state', 'message'], rows),
  };
}
