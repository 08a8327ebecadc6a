/** `gsectl validate [DIR]`: load and check a spec tree offline. */
import { resolve } from 'node:path';
import { loadRevisionFromDir, type SecretPolicy } from '../../spec/load.js';
import { formatSpecError } from '../../spec/types.js';
import type { CommandInput } from '../commands.js';
import type { CommandResult } from '../output.js';

/**
 * The secret references the controller will allow, when the caller names them (`--secret-env`,
 * `--secret-dir`): then references are checked as the controller checks them; otherwise left unchecked.
 */
function secretPolicy(values: CommandInput['values']): SecretPolicy | undefined {
  const env = typeof values['secret-env'] === 'string' ? values['secret-env'] : undefined;
  const dir = typeof values['secret-dir'] === 'string' ? values['secret-dir'] : undefined;
  if (env === undefined && dir === undefined) return undefined;
  return {
    env: (env ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    ...(dir === undefined ? {} : { dir: resolve(dir) }),
  };
}

/** Validates the tree; exit 1 with every error when it is invalid. */
export async function run(input: CommandInput): Promise<CommandResult> {
  const dir = input.positionals[0] ?? '.';
  const secrets = secretPolicy(input.values);
  const result = await loadRevisionFromDir(resolve(dir), secrets ? { secrets } : undefined);
  if (!result.ok) {
    const lines = result.errors.map(formatSpecError);
    return {
      exitCode: 1,
      data: { valid: false, errors: result.errors },
      table: () => [...lines, '', `${dir}: ${result.errors.length} error(s); nothing was applied`].join('\n'),
    };
  }
  const counts: Record<string, number> = {};
  for (const r of result.revision.resources) counts[r.kind] = (counts[r.kind] ?? 0) + 1;
  const summary = Object.entries(counts)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  return {
    exitCode: 0,
    data: { valid: true, revision: result.revision.id, resources: counts },
    table: () => `${dir}: valid (${summary || 'no resources'})`,
  };
}
