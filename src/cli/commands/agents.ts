/** `gsectl agents approve|revoke ID`: manage enrolled agents (list them with `gsectl get agents`). */
import { ApiClient, clientOptions } from '../client.js';
import type { CommandInput } from '../commands.js';
import type { CommandResult } from '../output.js';

/** Approves or revokes one agent. */
export async function run(input: CommandInput): Promise<CommandResult> {
  const [action, id] = input.positionals;
  if ((action !== 'approve' && action !== 'revoke') || !id) {
    return { exitCode: 2, stderr: ['gsectl agents: usage: gsectl agents approve|revoke AGENT_ID'] };
  }
  const rec = await new ApiClient(clientOptions(input.values)).post<{ agentId: string; status: string }>(
    `agents/${encodeURIComponent(id)}/${action}`,
    {},
  );
  return { exitCode: 0, data: rec, table: () => `${rec.agentId}: ${rec.status}` };
}
