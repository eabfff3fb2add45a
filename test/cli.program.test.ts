/**
 * The CLI loads only the command it runs (src/cli/program.ts): --version loads none, help and unknown
 * names load them all. What a user sees must not depend on that.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { queuectl } from "./helpers/cli.js";

const COMMANDS = ["enqueue", "worker", "status", "list", "show", "dlq", "queue", "cancel", "kill", "requeue", "wait", "logs", "purge", "schedule", "config", "db", "dashboard", "completion"];

describe("the program", () => {
  it("--version prints the package's version", async () => {
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) expect(await queuectl([flag])).toMatchObject({ code: 0, stdout: version, stderr: "" });
  });

  it("--help lists every command, in the documented order", async () => {
    const res = await queuectl(["--help"]);
    expect(res.code).toBe(0);
    const listed = [...res.stdout.split("Commands:")[1]!.split("\n\n")[0]!.matchAll(/^ {2}(\w+)/gm)].map((m) => m[1]);
    expect(listed.filter((c) => c !== "help")).toEqual(COMMANDS);
  });

  it("each command's help comes from its own module, the second name of a module included", async () => {
    for (const name of ["kill", "cancel", "db"]) {
      const res = await queuectl([name, "--help"]);
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(new RegExp(`^Usage: queuectl ${name} `));
    }
  });

  it("an unknown command: one line on stderr, exit code 2", async () => {
    expect(await queuectl(["nosuch"])).toEqual({ code: 2, stdout: "", stderr: "queuectl: unknown command 'nosuch'" });
  });
});
