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

/** The terminal's width when stdout is one (main sets it); undefined: tables keep their natural width. */
let terminalWidth: number | undefined;
export function setTableWidth(columns: number | undefined): void {
  terminalWidth = columns;
}

/** A column is never cut narrower than this. */
const MIN_COLUMN = 8;
const GAP = 2;

/**
 * Column widths that fit `max` (pure): the widest column gives up a character at a time until the row
 * fits or every column is down to MIN_COLUMN (then the row is wider than the terminal, as it must be).
 */
export function fitWidths(natural: number[], max: number | undefined): number[] {
  const widths = [...natural];
  if (max === undefined) return widths;
  let total = widths.reduce((a, b) => a + b, 0) + GAP * Math.max(0, widths.length - 1);
  while (total > max) {
    let widest = -1;
    for (let i = 0; i < widths.length; i++)
      if ((widths[i] ?? 0) > MIN_COLUMN && (widest === -1 || (widths[i] ?? 0) > (widths[widest] ?? 0)))
        widest = i;
    if (widest === -1) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
    total--;
  }
  return widths;
}

/** `text` in at most `width` characters, cut with an ellipsis. */
function cut(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** Lays rows out in aligned columns under upper-cased headers, fitting the terminal when there is one. */
export function renderTable(
  headers: string[],
  rows: Array<Array<string | number | boolean | undefined>>,
  maxWidth: number | undefined = terminalWidth,
): string {
  const cells = [
    headers.map((h) => h.toUpperCase()),
    ...rows.map((r) => r.map((c) => (c === undefined ? '-' : String(c)))),
  ];
  const natural = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const widths = fitWidths(natural, maxWidth);
  return cells
    .map((r) =>
      r
        .map((c, i) => {
          const w = widths[i] ?? 0;
          return i === r.length - 1 ? cut(c, w) : cut(c, w).padEnd(w);
        })
        .join(' '.repeat(GAP))
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
