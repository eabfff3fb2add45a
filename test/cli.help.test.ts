/**
 * The help is the documentation: every command and subcommand shows at least one example, and the
 * README and the program name the same commands (a command missing from either is found here).
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../src/cli/program.js";

/** Every runnable command as its words ("worker start"), with its whole help text. */
async function commandHelps(): Promise<Map<string, string>> {
  const program = await buildProgram(["node", "queuectl"]);
  const out = new Map<string, string>();
  const walk = (cmd: Command, words: string[]) => {
    for (const sub of cmd.commands) {
      if (sub.name() === "help") continue;
      const path = [...words, sub.name()];
      if (sub.commands.length > 0) walk(sub, path);
      let text = "";
      sub.configureOutput({ writeOut: (s) => void (text += s), writeErr: (s) => void (text += s) });
      sub.outputHelp();
      out.set(path.join(" "), text);
    }
  };
  walk(program, []);
  return out;
}

describe("help and README", () => {
  it("every command's --help has an example of it", async () => {
    const helps = await commandHelps();
    expect(helps.size).toBeGreaterThan(40);
    // An example line (after "Examples:") that runs this command.
    const without = [...helps].filter(([path, text]) => {
      const examples = text.split("\nExamples:\n")[1] ?? "";
      return !examples.split("\n").some((line) => /^\s+\$ /.test(line) && new RegExp(`queuectl ${path.replace(" ", "[ :]")}\\b`).test(line));
    });
    expect(without.map(([path]) => path)).toEqual([]);
  });

  it("the README names every command, and every command it names exists", async () => {
    const helps = await commandHelps();
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const runnable = [...helps.keys()].filter((path) => ![...helps.keys()].some((other) => other.startsWith(`${path} `)));
    expect(runnable.filter((path) => !readme.includes(`queuectl ${path}`))).toEqual([]);
    // Commands as the README writes them: in code blocks and code spans, not in its prose.
    const code = [...readme.matchAll(/```sh\n([\s\S]*?)```|`([^`\n]+)`/g)].map((m) => m[1] ?? m[2]!).join("\n");
    const named = new Set([...code.matchAll(/(?:^|[\s(;&|])(?<!-U )queuectl ([a-z]+(?:[ :][a-z][a-z-]*)?)/gm)].map((m) => m[1]!.replace(":", " ")));
    // "queuectl enqueue echo" names enqueue; "queuectl worker frobnicate" names no command of the worker group.
    const isGroup = (word: string) => [...helps.keys()].some((path) => path.startsWith(`${word} `));
    const known = (words: string) => helps.has(words) || (helps.has(words.split(" ")[0]!) && !isGroup(words.split(" ")[0]!));
    expect([...named].filter((words) => !known(words))).toEqual([]);
  });
});
