/** `completion bash|zsh`: a script that bash loads and that completes commands, subcommands and flags. */
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { queuectl } from "./helpers/cli.js";

async function complete(script: string, words: string[]): Promise<string[]> {
  const res = await execa("bash", ["-c", `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _queuectl; printf '%s\\n' "\${COMPREPLY[@]}"`]);
  return res.stdout.split("\n").filter(Boolean);
}

describe("completion", () => {
  it("bash: completes commands, subcommands and their flags, and nothing after an argument", async () => {
    const res = await queuectl(["completion", "bash"]);
    expect(res.code).toBe(0);
    expect(await complete(res.stdout, ["queuectl", "qu"])).toEqual(["queue"]);
    expect(await complete(res.stdout, ["queuectl", "queue", ""])).toEqual(expect.arrayContaining(["list", "set-concurrency", "pause", "resume"]));
    expect(await complete(res.stdout, ["queuectl", "dlq", "retry", "--"])).toEqual(["--all", "--edit", "--json", "--help"]);
    expect(await complete(res.stdout, ["queuectl", "logs", "job-1", "--f"])).toEqual(["--follow"]);
  });

  it("zsh: the same function through bashcompinit; an unknown shell exits 2", async () => {
    const res = await queuectl(["completion", "zsh"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/bashcompinit/);
    expect(res.stdout).toMatch(/complete -F _queuectl queuectl/);
    expect(await queuectl(["completion", "fish"])).toEqual({ code: 2, stdout: "", stderr: "queuectl: unknown shell 'fish' (bash or zsh)" });
  });
});
