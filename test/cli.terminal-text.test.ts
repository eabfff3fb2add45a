/**
 * What a job printed (or put in its command and env) cannot drive the operator's terminal: on a
 * terminal, `show`, `logs` and `list` show control characters as visible escapes; piped output,
 * `--json` and `logs --raw` keep the bytes. The terminal is a real pseudo-terminal (util-linux
 * script(1)), as an operator's shell gives.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { CLI, queuectl } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { enqueue, jobState, startInProcessWorker, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();
const run = promisify(execFile);

/** Runs the CLI on a pseudo-terminal and returns what the terminal received. */
async function onTerminal(args: string[]): Promise<string> {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const { stdout } = await run("script", ["-qec", command, "/dev/null"], { env: { ...process.env, DATABASE_URL: db.url } });
  return stdout;
}

/** Erase the line, then an OSC 52 clipboard write, then a bell. */
const HOSTILE = "\u001b[2K\r\u001b]52;c;ZWNobyBwd25lZA==\u0007";

describe("text from jobs on a terminal", () => {
  it("show, logs and list escape control characters; --raw, --json and pipes keep them", async () => {
    await enqueue(db.pool, [{ id: "esc", command: `printf 'before\\033[2K\\r\\033]52;c;ZWNobyBwd25lZA==\\007after\\n'`, env: { NOTE: HOSTILE } }]);
    const worker = await startInProcessWorker(db);
    try {
      await waitFor(async () => (await jobState(db.pool, "esc"))?.state === "completed", { what: "the job to run" });
    } finally {
      worker.requestStop("test over");
      await worker.finished();
    }
    const shown = await onTerminal(["show", "esc"]);
    const logs = await onTerminal(["logs", "esc"]);
    const list = await onTerminal(["list"]);
    for (const [what, text] of [["show", shown], ["logs", logs], ["list", list]] as const) {
      expect(text, what).not.toContain("\u001b]52");
      expect(text, what).not.toContain("\u001b[2K");
      expect(text, what).not.toContain("\u0007");
    }
    expect(logs).toContain("before\\e[2K\\r\\e]52;c;ZWNobyBwd25lZA==\\x07after");
    expect(shown).toContain("NOTE=\\e[2K\\r\\e]52;c;ZWNobyBwd25lZA==\\x07");

    const raw = await onTerminal(["logs", "esc", "--raw"]);
    expect(raw).toContain("\u001b]52;c;ZWNobyBwd25lZA==\u0007after");
    const piped = await queuectl(["logs", "esc"]);
    expect(piped.stdout).toBe("before\u001b[2K\r\u001b]52;c;ZWNobyBwd25lZA==\u0007after");
    const json = JSON.parse((await queuectl(["show", "esc", "--json"])).stdout) as { env: Record<string, string> };
    expect(json.env.NOTE).toBe(HOSTILE);
  });
});
