/** `gsectl status`: applied revision, last rejected revision with its errors, hosts by state, targets. */
import { ApiClient, clientOptions } from '../client.js';
import type { CommandInput } from '../commands.js';
import { type CommandResult, renderTable } from '../output.js';

interface StatusView {
  revision: {
    applied: { sha: string; message: string; author: string; seenAt: string } | null;
    lastRejected: {
      sha: string;
      message: string;
      errors: Array<{ file: string; line: number; col: number; path: string; message: string }>;
    } | null;
  };
  hosts: { total: number; connected: number; bySyncState: Record<string, number> };
  targets: Array<{ name: string; type: string; connected: boolean; spoolDepth: number; lastError?: string }>;
}

/** Fetches /status and shows it. */
export async function run(input: CommandInput): Promise<CommandResult> {
  const status = await new ApiClient(clientOptions(input.values)).get<StatusView>('status');
  return {
    exitCode: 0,
    data: status,
    table: () => {
      const { applied, lastRejected } = status.revision;
      const lines = [
        applied
          ? `Revision:  ${applied.sha.slice(0, 12)}  ${applied.message}  (${applied.author})`
          : 'Revision:  none applied yet',
        `Hosts:     ${status.hosts.total} known, ${status.hosts.connected} connected`,
        `           ${Object.entries(status.hosts.bySyncState)
          .map(([k, n]) => `${k} ${n}`)
          .join('  ')}`,
      ];
      if (lastRejected) {
        lines.push(
          '',
          `Rejected:  ${lastRejected.sha.slice(0, 12)}  ${lastRejected.message}  (the last good revision stays in force)`,
        );
        for (const e of lastRejected.errors)
          lines.push(`  ${e.file}:${e.line}:${e.col}: ${e.path ? `${e.path}: ` : ''}${e.message}`);
      }
      if (status.targets.length > 0) {
        lines.push(
          '',
          renderTable(
            ['target', 'type', 'connected', 'spool', 'last error'],
            status.targets.map((t) => [t.name, t.type, t.connected, t.spoolDepth, t.lastError]),
          ),
        );
      }
      return lines.join('\n');
    },
  };
}
