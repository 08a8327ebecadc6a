/**
 * `gsectl agents approve|revoke|reset ID`: manage enrolled agents (list them with `gsectl get agents`).
 * `reset` clears an agent's credential so its next bootstrap-token enrollment is let in: the way back for a
 * host that lost its identity (the controller refuses a bootstrap re-enrollment of a held id otherwise).
 */
import { ApiClient, clientOptions } from '../client.js';
import type { CommandInput } from '../commands.js';
import type { CommandResult } from '../output.js';

const ACTIONS = new Set(['approve', 'revoke', 'reset']);

/** Approves, revokes or resets one agent. */
export async function run(input: CommandInput): Promise<CommandResult> {
  const [action, id] = input.positionals;
  if (!action || !ACTIONS.has(action) || !id) {
    return { exitCode: 2, stderr: ['gsectl agents: usage: gsectl agents approve|revoke|reset AGENT_ID'] };
  }
  const rec = await new ApiClient(clientOptions(input.values)).post<{ agentId: string; status: string }>(
    `agents/${encodeURIComponent(id)}/${action}`,
    {},
  );
  const note =
    action === 'reset'
      ? rec.status === 'pending'
        ? ' (credential cleared; approve its next enrollment with gsectl agents approve)'
        : ' (credential cleared; its next enrollment with the bootstrap token gets a new one)'
      : '';
  return { exitCode: 0, data: rec, table: () => `${rec.agentId}: ${rec.status}${note}` };
}
