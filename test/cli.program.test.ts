/**
 * The CLI loads only the command it runs (src/cli/program.ts): --version and --help load none
 * (src/cli/main.ts), `help` and unknown names load them all. What a user sees must not depend on that.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { queuectl } from "./helpers/cli.js";

const COMMANDS = ["enqueue", "worker", "status", "list", "show", "dlq", "queue", "cancel", "kill", "requeue", "run", "wait", "logs", "purge", "schedule", "doctor", "audit", "config", "db", "dashboard", "completion"];

describe("the program", () => {
  it("--version prints the package's version (src/cli/version.ts is kept equal to package.json)", async () => {
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) expect(await queuectl([flag])).toMatchObject({ code: 0, stdout: version, stderr: "" });
  });

  it("--help lists every command, in the documented order", async () => {
    const res = await queuectl(["--help"]);
    expect(res.code).toBe(0);
    const listed = [...res.stdout.split("Commands:")[1]!.split("\n\n")[0]!.matchAll(/^ {2}(\w+)/gm)].map((m) => m[1]);
    expect(listed.filter((c) => c !== "help")).toEqual(COMMANDS);
  });

  it("--help, answered from the text rendered at build time, is what commander renders now", async () => {
    // `queuectl help` always goes through commander; `--help` prints dist/cli/help.txt.
    const rendered = await queuectl(["--help"]);
    const live = await queuectl(["help"]);
    expect(live.code).toBe(0);
    expect(rendered).toEqual(live);
    expect(await queuectl(["-h"])).toEqual(live);
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

  it("group:command is the same command as `group command`, help and errors included", async () => {
    const spaced = await queuectl(["config", "get", "--help"]);
    expect(spaced.code).toBe(0);
    expect(await queuectl(["config:get", "--help"])).toEqual(spaced);
    expect(await queuectl(["dlq:nosuch"])).toEqual(await queuectl(["dlq", "nosuch"]));
    // Only groups: `list:x` stays an unknown command rather than `list x`.
    expect(await queuectl(["list:all"])).toMatchObject({ code: 2, stderr: "queuectl: unknown command 'list:all'" });
  });

  it("a mistyped command or option: one line naming the nearest, exit 2", async () => {
    expect(await queuectl(["stauts"])).toEqual({ code: 2, stdout: "", stderr: "queuectl: unknown command 'stauts' (did you mean status?)" });
    const res = await queuectl(["list", "--stat", "pending"]);
    expect(res).toMatchObject({ code: 2, stdout: "" });
    expect(res.stderr).toBe("queuectl: unknown option '--stat' (did you mean --state?)");
  });
});
