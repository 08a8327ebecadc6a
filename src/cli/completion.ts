/** Shell completion scripts made from the command table (pure): commands, flags, first words, -o formats. */
import type { CommandSpec } from './commands.js';
import { OUTPUT_FORMATS } from './output.js';

export const COMPLETION_SHELLS = ['bash', 'zsh'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

const flagWords = (spec: CommandSpec): string[] =>
  Object.entries(spec.flags).flatMap(([name, f]) => [`--${name}`, ...(f.short ? [`-${f.short}`] : [])]);

/** The bash completion function; zsh runs the same through bashcompinit. */
function bashFunction(commands: readonly CommandSpec[]): string {
  const cases = commands
    .map(
      (c) =>
        `    ${c.name}) flags="${[...flagWords(c), '--help'].join(' ')}"; words="${(c.words ?? []).join(' ')}" ;;`,
    )
    .join('\n');
  return `_gsectl() {
  local cur prev cmd flags words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${commands.map((c) => c.name).join(' ')} help" -- "$cur"))
    return
  fi
  case "$prev" in
    -o|--output) COMPREPLY=($(compgen -W "${OUTPUT_FORMATS.join(' ')}" -- "$cur")); return ;;
  esac
  case "$cmd" in
${cases}
    *) flags=""; words="" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [ "$COMP_CWORD" -eq 2 ] && [ -n "$words" ]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
`;
}

/** The script for `shell`. */
export function completionScript(shell: CompletionShell, commands: readonly CommandSpec[]): string {
  if (shell === 'bash')
    return `# gsectl completion for bash: source <(gsectl completion bash)\n${bashFunction(commands)}complete -o filenames -F _gsectl gsectl\n`;
  return `#compdef gsectl\n# gsectl completion for zsh: source <(gsectl completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n${bashFunction(commands)}complete -o filenames -F _gsectl gsectl\n`;
}
