import type { Command } from "commander";
import { InvalidInputError } from "../../errors.js";

/** Every command path ("", "dlq", "dlq retry", ...) with its subcommands and options, from the program itself. */
function commandTable(program: Command): Map<string, string[]> {
  const table = new Map<string, string[]>();
  const walk = (cmd: Command, path: string) => {
    const words = [...cmd.commands.map((c) => c.name()), ...cmd.options.flatMap((o) => [o.short, o.long].filter((f): f is string => !!f)), "--help"];
    table.set(path, words);
    for (const sub of cmd.commands) walk(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  walk(program, "");
  return table;
}

/** A bash completion script: completes commands, subcommands and flags at any depth. */
export function bashCompletion(program: Command): string {
  const cases = [...commandTable(program)]
    .map(([path, words]) => `    "${path}") words="${words.join(" ")}" ;;`)
    .join("\n");
  return `# queuectl bash completion. Load it with:  source <(queuectl completion bash)
_queuectl() {
  local cur path="" w i words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in -*) continue ;; esac
    case " $(_queuectl_words "\${path:+$path }$w") " in "  ") ;; *) path="\${path:+$path }$w" ;; esac
  done
  words=$(_queuectl_words "$path")
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
_queuectl_words() {
  local words=""
  case "$1" in
${cases}
  esac
  printf '%s' "$words"
}
complete -F _queuectl queuectl
`;
}

/** zsh runs the bash script through bashcompinit. */
export function zshCompletion(program: Command): string {
  return `# queuectl zsh completion. Load it with:  source <(queuectl completion zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(program).split("\n").slice(1).join("\n")}`;
}

export function registerCompletionCommand(program: Command): void {
  program
    .command("completion")
    .summary("print a shell completion script (bash or zsh)")
    .description("Prints a completion script for bash or zsh that completes queuectl's commands, subcommands and flags.")
    .argument("<shell>", "bash or zsh")
    .addHelpText(
      "after",
      `
Examples:
  $ source <(queuectl completion bash)        # in ~/.bashrc
  $ queuectl completion zsh > ~/.zsh/queuectl.zsh`,
    )
    .action((shell: string) => {
      if (shell === "bash") process.stdout.write(bashCompletion(program));
      else if (shell === "zsh") process.stdout.write(zshCompletion(program));
      else throw new InvalidInputError(`unknown shell '${shell}' (bash or zsh)`);
    });
}
