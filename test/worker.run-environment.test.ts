/**
 * The run environment: a job runs in the directory it was enqueued from (or its cwd) with the
 * environment variables it names, and of the worker's only a small base and what is passed on purpose;
 * secret-looking values are masked wherever jobs are printed; config env_allowlist refuses other
 * names, and PATH or loader variables unless named exactly; a cwd missing on the worker host fails the
 * attempt.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { jobState, startWorkerProcess, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();
const dir = mkdtempSync(join(tmpdir(), "queuectl-env-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function runAll(): Promise<void> {
  const worker = startWorkerProcess(["--exit-when-idle"]);
  expect(await worker.exited).toBe(0);
}

describe("run environment", () => {
  it("runs in the enqueuing shell's directory with the env it was given; secrets are masked in show and list", async () => {
    const res = await queuectl(
      ["enqueue", '{"id":"envjob","command":"pwd > out.txt; echo \\"$GREETING $TARGET $API_TOKEN\\" >> out.txt","env":{"GREETING":"hello"}}', "--env", "TARGET=prod", "--env", "API_TOKEN"],
      { cwd: dir, env: { API_TOKEN: "s3cr3t-value" } },
    );
    expect(res).toMatchObject({ code: 0, stdout: "envjob" });
    await runAll();
    expect(await jobState(db.pool, "envjob")).toMatchObject({ state: "completed" });
    expect(readFileSync(join(dir, "out.txt"), "utf8")).toBe(`${dir}\nhello prod s3cr3t-value\n`);

    const shown = await queuectlJson<{ cwd: string; env: Record<string, string> }>(["show", "envjob"]);
    expect(shown).toMatchObject({ cwd: dir, env: { GREETING: "hello", TARGET: "prod", API_TOKEN: "***" } });
    const human = await queuectl(["show", "envjob"]);
    expect(human.stdout).toMatch(/^cwd\s+\/.*queuectl-env-/m);
    expect(human.stdout).toMatch(/^env\s+API_TOKEN=\*\*\*\n\s+GREETING=hello\n\s+TARGET=prod$/m);
    const listed = await queuectlJson<Array<{ id: string; env: Record<string, string> }>>(["list"]);
    expect(listed.find((j) => j.id === "envjob")?.env).toEqual({ GREETING: "hello", TARGET: "prod", API_TOKEN: "***" });
    for (const out of [human.stdout, JSON.stringify(shown), JSON.stringify(listed)]) expect(out).not.toContain("s3cr3t-value");
  });

  it("a job sees none of the worker's secrets: only the base variables, what --pass-env and pass_env name, its own env", async () => {
    const out = join(dir, "env.txt");
    expect((await queuectl(["config", "set", "pass_env", "FROM_CONFIG"])).code).toBe(0);
    expect((await queuectl(["enqueue", "--id", "printenv", "--command", `env > ${out}`, "--env", "OWN=mine"])).code).toBe(0);
    const worker = startWorkerProcess(["--exit-when-idle", "--pass-env", "FROM_FLAG"], {
      QUEUECTL_DASHBOARD_TOKEN: "dashboard-token-of-the-worker",
      AWS_SECRET_ACCESS_KEY: "worker-aws-secret",
      FROM_FLAG: "flag-value",
      FROM_CONFIG: "config-value",
      NOT_PASSED: "not-passed",
    });
    expect(await worker.exited).toBe(0);
    const seen = Object.fromEntries(readFileSync(out, "utf8").trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    expect(seen).toMatchObject({ OWN: "mine", FROM_FLAG: "flag-value", FROM_CONFIG: "config-value", QUEUECTL_JOB_ID: "printenv", QUEUECTL_ATTEMPT: "1", PATH: process.env.PATH });
    for (const name of ["DATABASE_URL", "QUEUECTL_DASHBOARD_TOKEN", "AWS_SECRET_ACCESS_KEY", "NOT_PASSED", "QUEUECTL_TEST_ADMIN_URL"]) expect(seen[name], name).toBeUndefined();
    expect(readFileSync(out, "utf8")).not.toContain(db.url);
    await queuectl(["config", "set", "pass_env", "-"]);
  });

  it("PATH and loader variables are refused unless env_allowlist names them exactly", async () => {
    for (const name of ["PATH", "LD_PRELOAD", "DYLD_INSERT_LIBRARIES", "NODE_OPTIONS", "QUEUECTL_JOB_ID"]) {
      const res = await queuectl(["enqueue", "--command", "true", "--env", `${name}=/x`]);
      expect(res.code, name).toBe(2);
      expect(res.stderr, name).toMatch(new RegExp(`^queuectl: environment variable '${name}' changes what the command runs or loads: a job may set it only when config env_allowlist names it`));
    }
    expect((await queuectl(["config", "set", "env_allowlist", "*,PATH"])).code).toBe(0);
    expect((await queuectl(["enqueue", "--command", "true", "--env", "PATH=/opt/tools/bin:/usr/bin:/bin"])).code).toBe(0);
    expect((await queuectl(["enqueue", "--command", "true", "--env", "LD_PRELOAD=/x"])).code).toBe(2);
    await queuectl(["config", "set", "env_allowlist", "*"]);
  });

  it("a cwd that does not exist on the worker host fails the attempt with a clear error", async () => {
    expect((await queuectl(["enqueue", "--id", "nowhere", "--command", "true", "--cwd", "/no/such/dir", "--max-retries", "0"])).code).toBe(0);
    await runAll();
    expect(await jobState(db.pool, "nowhere")).toMatchObject({ state: "dead", last_error: "could not start: working directory /no/such/dir does not exist on this host" });
  });

  it("env_allowlist refuses other names (exit 2, nothing enqueued); --env NAME needs NAME set", async () => {
    expect((await queuectl(["config", "set", "env_allowlist", "APP_*,TZ"])).code).toBe(0);
    const count = async () => (await db.pool.query("SELECT count(*)::int AS n FROM jobs")).rows[0].n;
    const before = await count();
    expect(await queuectl(["enqueue", "--command", "true", "--env", "APP_MODE=x", "--env", "LD_PRELOAD=/evil.so"])).toEqual({
      code: 2, stdout: "", stderr: "queuectl: environment variable 'LD_PRELOAD' is not allowed by config env_allowlist (APP_*,TZ)",
    });
    expect(await queuectl(["enqueue", "--command", "true", "--env", "APP_UNSET"])).toEqual({
      code: 2, stdout: "", stderr: "queuectl: --env APP_UNSET: not set in this shell (give a value: --env APP_UNSET=value)",
    });
    expect(await queuectl(["enqueue", '{"command":"true","env":{"1BAD":"x"}}'])).toMatchObject({ code: 2, stdout: "" });
    expect(await count()).toBe(before);
    expect(await queuectl(["enqueue", "--command", "true", "--env", "APP_MODE=x", "--env", "TZ=UTC"])).toMatchObject({ code: 0 });
    expect(await count()).toBe(before + 1);
    await queuectl(["config", "set", "env_allowlist", "*"]);
  });
});
