#!/usr/bin/env node
/** gsectl: the only place that reads argv, prints, and exits. */
import { parseArgs } from 'node:util';
import { COMMANDS, type CommandSpec } from './commands.js';
import { parseDurationMs } from './duration.js';
import { OUTPUT_FORMATS, type OutputFormat, renderResult, setTableWidth } from './output.js';
import { DEFAULT_WATCH_INTERVAL_MS, watchLoop } from './watch.js';

const EXIT_USAGE = 2;

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'gsectl: drive a gse-gitops fleet (desired state lives in Git)',
    '',
    'Usage: gsectl COMMAND [FLAGS]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run `gsectl COMMAND --help` for a command's flags.",
  ].join('\n');
}

function commandHelp(spec: CommandSpec): string {
  const flags = Object.entries(spec.flags).map(([name, f]) => {
    const short = f.short ? `-${f.short}, ` : '    ';
    const arg = f.type === 'string' ? ' VALUE' : '';
    const def = f.default !== undefined ? ` (default ${String(f.default)})` : '';
    return `  ${short}--${name}${arg}${def}`;
  });
  return [
    `${spec.summary}`,
    '',
    `Usage: ${spec.usage}`,
    '',
    'Flags:',
    ...flags,
    '  -h, --help',
    ...(spec.details ? ['', spec.details] : []),
  ].join('\n');
}

function usageError(message: string, hint: string): never {
  process.stderr.write(`gsectl: ${message}\n${hint}\n`);
  process.exit(EXIT_USAGE);
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${mainHelp()}\n`);
    return name === undefined ? EXIT_USAGE : 0;
  }
  const spec = COMMANDS.find((c) => c.name === name);
  if (!spec) usageError(`unknown command "${name}"`, 'Run `gsectl --help` for the commands.');

  const dash = args.indexOf('--');
  const own = dash === -1 ? args : args.slice(0, dash);
  const rest = dash === -1 ? [] : args.slice(dash + 1);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: own,
      options: { ...spec.flags, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    usageError((err as Error).message, `Run \`gsectl ${spec.name} --help\`.`);
  }
  if (parsed.values.help) {
    process.stdout.write(`${commandHelp(spec)}\n`);
    return 0;
  }
  const format = (parsed.values.output ?? 'table') as string;
  if (!OUTPUT_FORMATS.includes(format as OutputFormat)) {
    usageError(
      `-o ${format}: expected one of ${OUTPUT_FORMATS.join(', ')}`,
      `Run \`gsectl ${spec.name} --help\`.`,
    );
  }
  if (process.stdout.isTTY) setTableWidth(process.stdout.columns);
  const command = await spec.load();
  const input = { values: parsed.values, positionals: parsed.positionals, rest };
  if (parsed.values.watch === true) {
    const text = parsed.values.interval;
    const intervalMs = typeof text === 'string' ? parseDurationMs(text) : DEFAULT_WATCH_INTERVAL_MS;
    if (!intervalMs)
      usageError(
        `--interval ${String(text)}: expected a duration such as 2s or 1m`,
        `Run \`gsectl ${spec.name} --help\`.`,
      );
    const stopped = new Promise((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await watchLoop({
      render: async () => {
        const result = await command.run(input);
        return [await renderResult(result, format as OutputFormat), ...(result.stderr ?? [])].join('\n');
      },
      write: (t) => process.stdout.write(t),
      tty: process.stdout.isTTY === true,
      intervalMs,
      title: ['gsectl', name, ...args].join(' '),
      now: () => new Date(),
      stopped,
    });
    return 0;
  }
  const result = await command.run(input);
  const text = await renderResult(result, format as OutputFormat);
  if (text) process.stdout.write(`${text}\n`);
  for (const line of result.stderr ?? []) process.stderr.write(`${line}\n`);
  return result.exitCode;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof Error && ['ApiClientError', 'ControllerOptionsError'].includes(err.name)) {
      process.stderr.write(`gsectl: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    process.stderr.write(`gsectl: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
