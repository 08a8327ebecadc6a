/** `gsectl schema [KIND]`: print a kind's JSON Schema, or list the kinds and their schema files. */
import { renderSpecReference } from '../../spec/reference-doc.js';
import { SCHEMA_FILES, schemaDocument } from '../../spec/schemas.js';
import { KINDS } from '../../spec/types.js';
import type { CommandInput } from '../commands.js';
import { type CommandResult, renderTable } from '../output.js';

/** Prints the schema of KIND (case-insensitive; `common` for the shared definitions), or the list of kinds. */
export async function run(input: CommandInput): Promise<CommandResult> {
  const wanted = input.positionals[0];
  if (input.values.markdown === true) {
    const text = renderSpecReference();
    return { exitCode: 0, data: { markdown: text }, table: () => text.trimEnd() };
  }
  if (wanted === undefined) {
    const rows = KINDS.map((k) => ({ kind: k, file: `specs/${SCHEMA_FILES[k]}` }));
    return {
      exitCode: 0,
      data: rows,
      table: () =>
        renderTable(
          ['kind', 'schema'],
          rows.map((r) => [r.kind, r.file]),
        ),
    };
  }
  const kind =
    wanted.toLowerCase() === 'common'
      ? 'common'
      : KINDS.find((k) => k.toLowerCase() === wanted.toLowerCase());
  if (!kind)
    return { exitCode: 2, stderr: [`gsectl schema: unknown kind "${wanted}"; kinds: ${KINDS.join(', ')}`] };
  const schema = schemaDocument(kind);
  return { exitCode: 0, data: schema, table: () => JSON.stringify(schema, null, 2) };
}
