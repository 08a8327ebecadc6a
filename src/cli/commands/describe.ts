/** `gsectl describe host ID`: facts, manifest, per-resource status, recent drift and executions. */
import { stringify } from 'yaml';
import { ApiClient, clientOptions } from '../client.js';
import type { CommandInput } from '../commands.js';
import { type CommandResult, renderTable } from '../output.js';

interface HostDetail {
  host: Record<string, unknown>;
  manifest: {
    hash: string;
    revision: string;
    items: Array<{ kind: string; name: string; hash: string }>;
  } | null;
  planErrors: Array<{ resource: string; message: string }>;
  resources: Array<{ key: string; state: string; message?: string }>;
  drift: Array<{ detectedAt: string; key: string; kind: string; healed: boolean; detail: string }>;
  executions: Array<{ startedAt: string; reason: string; status: string; exitCode: number | null }>;
}

/** Shows one host in full. */
export async function run(input: CommandInput): Promise<CommandResult> {
  const [what, id] = input.positionals;
  if (what !== 'host' || !id)
    return { exitCode: 2, stderr: ['gsectl describe: usage: gsectl describe host ID'] };
  const d = await new ApiClient(clientOptions(input.values)).get<HostDetail>(
    `hosts/${encodeURIComponent(id)}`,
  );
  return {
    exitCode: 0,
    data: d,
    table: () =>
      [
        stringify(d.host).trimEnd(),
        '',
        `Manifest: ${d.manifest ? `${d.manifest.hash.slice(0, 12)} (revision ${d.manifest.revision.slice(0, 12)}, ${d.manifest.items.length} resources)` : 'none'}`,
        ...d.planErrors.map((e) => `  cannot plan ${e.resource}: ${e.message}`),
        '',
        renderTable(
          ['resource', 'state', 'message'],
          d.resources.map((r) => [r.key, r.state, r.message]),
        ),
        '',
        'Recent drift:',
        renderTable(
          ['detected', 'resource', 'kind', 'healed', 'detail'],
          d.drift.map((x) => [x.detectedAt, x.key, x.kind, x.healed, x.detail]),
        ),
        '',
        'Recent executions:',
        renderTable(
          ['started', 'reason', 'status', 'exit'],
          d.executions.map((x) => [x.startedAt, x.reason, x.status, x.exitCode ?? undefined]),
        ),
      ].join('\n'),
  };
}
