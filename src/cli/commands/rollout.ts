/** `gsectl rollout status|pause|resume|undo NAME`: AgentVersion rollouts (status: progress bar, batch, hosts). */
import type { RolloutView } from '../../api/port.js';
import { ApiClient, clientOptions } from '../client.js';
import type { CommandInput } from '../commands.js';
import type { CommandResult } from '../output.js';
import { progressBar } from '../progress.js';

const ACTIONS = new Set(['status', 'pause', 'resume', 'undo']);

/** The status table of one rollout. */
export function rolloutText(v: RolloutView): string {
  const r = v.rollout;
  const total = v.hosts.length;
  const lines = [
    `${r.name} -> ${r.version}${r.undo ? ' (undo)' : ''}: ${r.phase}, batch ${v.batch} of ${v.batches}, attempt ${r.attempt}`,
    progressBar(v.counts.upgraded, total),
  ];
  if (r.pauseReason) lines.push(`paused: ${r.pauseReason}`);
  if (r.endReason) lines.push(`ended: ${r.endReason}`);
  if (v.waiting) lines.push(`waiting: ${v.waiting}`);
  lines.push('HOST\tBATCH\tSTATE\tRUNNING\tMESSAGE');
  for (const h of v.hosts)
    lines.push(`${h.hostId}\t${h.batch || '-'}\t${h.state}\t${h.runningVersion ?? '?'}\t${h.message ?? ''}`);
  return lines.join('\n');
}

/** Shows, pauses, resumes or undoes one rollout. */
export async function run(input: CommandInput): Promise<CommandResult> {
  const [action, name] = input.positionals;
  if (!action || !ACTIONS.has(action) || !name)
    return { exitCode: 2, stderr: ['gsectl rollout: usage: gsectl rollout status|pause|resume|undo NAME'] };
  const client = new ApiClient(clientOptions(input.values));
  const path = `rollouts/${encodeURIComponent(name)}`;
  const view =
    action === 'status'
      ? await client.get<RolloutView>(path)
      : await client.post<RolloutView>(`${path}/${action}`, {});
  return { exitCode: 0, data: view, table: () => rolloutText(view) };
}
