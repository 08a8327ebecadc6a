/**
 * `gsectl hosts delete NAME [--force]`: revoke the host's agent and drop the host from the fleet views,
 * keeping its drift and executions. The controller refuses a connected host unless --force.
 */
import { ApiClient, clientOptions } from '../client.js';
import type { CommandInput } from '../commands.js';
import type { CommandResult } from '../output.js';

const USAGE = 'gsectl hosts: usage: gsectl hosts delete NAME [--force]';

/** Deletes one host. */
export async function run(input: CommandInput): Promise<CommandResult> {
  const [action, name, ...extra] = input.positionals;
  if (action !== 'delete' || !name || extra.length > 0) return { exitCode: 2, stderr: [USAGE] };
  const force = input.values.force === true;
  const removed = await new ApiClient(clientOptions(input.values)).delete<{
    hostId: string;
    revoked: boolean;
  }>(`hosts/${encodeURIComponent(name)}${force ? '?force=true' : ''}`);
  const revoked = removed.revoked
    ? `; its agent is revoked (to let it back: gsectl agents approve ${removed.hostId}, then it enrolls again)`
    : '';
  return {
    exitCode: 0,
    data: removed,
    table: () =>
      `host ${removed.hostId} deleted${revoked}; its history stays: gsectl get executions --host ${removed.hostId}`,
  };
}
