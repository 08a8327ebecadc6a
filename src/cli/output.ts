/** Renders command results as a table, JSON or YAML: the one place output formats are decided. */
export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** What a command hands back to `main`: the data, how to show it as a table, and the exit code. */
export interface CommandResult {
  exitCode: 0 | 1 | 2;
  /** Machine-readable result, printed as is for `-o json|yaml`. */
  data?: unknown;
  /** The human view for `-o table` (the default). */
  table?: () => string;
  /** Lines for stderr whatever the format (errors, hints). */
  stderr?: string[];
}

/** Lays rows out in aligned columns under upper-cased headers. */
export function renderTable(
  headers: string[],
  rows: Array<Array<string | number | boolean | undefined>>,
): string {
  const cells = [
    headers.map((h) => h.toUpperCase()),
    ...rows.map((r) => r.map((c) => (c === undefined ? '-' : String(c)))),
  ];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `data` as YAML; `yaml` is loaded only here, since it costs more start-up time than most commands use. */
async function toYaml(data: unknown): Promise<string> {
  const { stringify } = await import('yaml');
  return stringify(data).trimEnd();
}

/** The text `main` prints for a result in the chosen format. */
export async function renderResult(result: CommandResult, format: OutputFormat): Promise<string> {
  if (format === 'json') return JSON.stringify(result.data ?? null, null, 2);
  if (format === 'yaml') return toYaml(result.data ?? null);
  if (result.table) return result.table();
  return result.data === undefined ? '' : toYaml(result.data);
}
