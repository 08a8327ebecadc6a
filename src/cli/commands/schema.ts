/** `gsectl schema [KIND]`: print a kind's JSON Schema, or list the kinds and their schema files. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KINDS, type Kind } from '../../spec/types.js';
import type { CommandInput } from '../commands.js';
import { type CommandResult, renderTable } from '../output.js';

/** `ConfigFile` -> `config-file.schema.json`. */
export function schemaFileName(kind: Kind): string {
  return `${kind.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase()}.schema.json`;
}

/** The `specs/` folder of this package, found by walking up from this file (works from src and dist). */
function specsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'specs')) || !existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the specs/ folder of gse-gitops');
    dir = up;
  }
  return join(dir, 'specs');
}

/** Prints the schema of KIND (case-insensitive), or the list of kinds. */
export async function run(input: CommandInput): Promise<CommandResult> {
  const wanted = input.positionals[0];
  if (wanted === undefined) {
    return {
      exitCode: 0,
      data: KINDS.map((k) => ({ kind: k, file: `specs/${schemaFileName(k)}` })),
      table: () =>
        renderTable(
          ['kind', 'schema'],
          KINDS.map((k) => [k, `specs/${schemaFileName(k)}`]),
        ),
    };
  }
  const kind = KINDS.find((k) => k.toLowerCase() === wanted.toLowerCase());
  if (!kind)
    return { exitCode: 2, stderr: [`gsectl schema: unknown kind "${wanted}"; kinds: ${KINDS.join(', ')}`] };
  const schema: unknown = JSON.parse(await readFile(join(specsDir(), schemaFileName(kind)), 'utf8'));
  return { exitCode: 0, data: schema, table: () => JSON.stringify(schema, null, 2) };
}
