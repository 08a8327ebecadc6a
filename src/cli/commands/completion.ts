/** `gsectl completion bash|zsh`: prints the completion script. */
import { COMMANDS, type CommandInput } from '../commands.js';
import { COMPLETION_SHELLS, type CompletionShell, completionScript } from '../completion.js';
import type { CommandResult } from '../output.js';

export async function run(input: CommandInput): Promise<CommandResult> {
  const shell = input.positionals[0];
  if (!COMPLETION_SHELLS.includes(shell as CompletionShell))
    return {
      exitCode: 2,
      stderr: [
        `gsectl completion: ${shell === undefined ? 'name a shell' : `no completion for "${shell}"`}: gsectl completion ${COMPLETION_SHELLS.join('|')}`,
      ],
    };
  const script = completionScript(shell as CompletionShell, COMMANDS);
  return { exitCode: 0, data: script, table: () => script.trimEnd() };
}
