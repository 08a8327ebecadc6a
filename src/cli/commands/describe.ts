/**
 * `gsectl describe host ID`: facts, manifest, per-resource status, recent drift and executions.
 * `gsectl describe execution TASK-ID`: the task on each host, with a remediation's chain (event -> rule ->
 * decision -> output).
 */
import { stringify } from 'yaml';
import { ApiClient, clientOptions } from '../client.js';
import type { CommandInput } from '../commands.js';
import { type CommandResult, renderTable } from '../output.js';
import type { ExecutionView } from './describe-execution.js';
import { executionChain } from './describe-execution.js';

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
  if ((what !== 'host' && what !== 'execution') || !id)
    return {
      exitCode: 2,
      stderr: ['gsectl describe: usage: gsectl describe host ID | gsectl describe execution TASK-ID'],
    };
  if (what === 'execution') return describeExecution(input, id);
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

/** One task id on every host it ran on (or was decided on), each with its chain. */
async function describeExecution(input: CommandInput, id: string): Promise<CommandResult> {
  const page = await new ApiClient(clientOptions(input.values)).get<{ items: ExecutionView[] }>(
    `executions?${new URLSearchParams({ id }).toString()}`,
  );
  if (page.items.length === 0)
    return {
      exitCode: 1,
      stderr: [`gsectl describe: no execution "${id}" (gsectl get executions lists them)`],
    };
  return {
    exitCode: 0,
    data: page.items,
    table: () => page.items.map(executionChain).join('\n\n'),
  };
}
