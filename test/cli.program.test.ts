/**
 * The CLI loads only the command it runs (src/cli/program.ts): --version and --help load none
 * (src/cli/main.ts), `help` and unknown names load them all. What a user sees must not depend on that.
 */
import { execa } from "execa";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CLI, queuectl } from "./helpers/cli.js";

const LOADER = fileURLToPath(new URL("../dist/cli/load-command-line.js", import.meta.url));

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

  it("loads its code from the V8 code cache written at build time, and runs the same when V8 refuses the cache", async () => {
    // Whether V8 took the cache, as a Node started like `queuectl` sees it; --no-opt changes V8's flags, which voids any cache.
    const probe = `import { loadCommandLine } from ${JSON.stringify(LOADER)}; process.stdout.write(String(loadCommandLine().script.cachedDataRejected));`;
    const rejected = async (nodeFlags: string[]) => (await execa(process.execPath, [...nodeFlags, "--input-type=module", "-e", probe])).stdout;
    expect(await rejected([])).toBe("false");
    expect(await rejected(["--no-opt"])).toBe("true");
    const fromSource = await execa(process.execPath, ["--no-opt", CLI, "help"], { reject: false });
    expect({ code: fromSource.exitCode, stdout: fromSource.stdout, stderr: fromSource.stderr }).toEqual(await queuectl(["help"]));
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
