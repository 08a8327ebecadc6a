/**
 * The gsectl command table: names, flags and help, with each command's code loaded only when it runs.
 */
import type { ParseArgsConfig } from 'node:util';
import type { CommandResult } from './output.js';

export type Flags = NonNullable<ParseArgsConfig['options']>;

/** The parsed input of one command. */
export interface CommandInput {
  values: Record<string, string | boolean | Array<string | boolean> | undefined>;
  positionals: string[];
  /** Everything after a bare `--` (for `exec`). */
  rest: string[];
}

export interface CommandModule {
  run(input: CommandInput): Promise<CommandResult>;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  flags: Flags;
  /** Text after the flags in `--help`. */
  details?: string;
  load(): Promise<CommandModule>;
}

const output: Flags = { output: { type: 'string', short: 'o', default: 'table' } };

export const COMMANDS: CommandSpec[] = [
  {
    name: 'validate',
    summary: 'Load and check a spec tree offline; print every error',
    usage: 'gsectl validate [DIR]',
    flags: { ...output },
    details: 'DIR defaults to the current directory. Exit 0 when valid, 1 on any error.',
    load: () => import('./commands/validate.js'),
  },
  {
    name: 'plan',
    summary: 'Show the manifest each host would get from a spec tree',
    usage: 'gsectl plan [DIR] --inventory FILE [-o table|json|yaml]',
    flags: { ...output, inventory: { type: 'string', short: 'i' } },
    details:
      'The inventory is a YAML file `hosts: [{name, ips, cloudId, labels}]` (see examples/inventory.yaml).',
    load: () => import('./commands/plan.js'),
  },
  {
    name: 'schema',
    summary: 'Print the JSON Schema of a kind (or list the kinds)',
    usage: 'gsectl schema [KIND]',
    flags: {},
    load: () => import('./commands/schema.js'),
  },
];
