/**
 * `queuectl schedule add/list/pause/resume/remove`: what a user sees, and bad input (a bad cron
 * expression, an unknown time zone, a bad job, an unknown name) exits 2 or 3 in one line and changes
 * nothing.
 */
import { describe, expect, it } from "vitest";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";

const db = useTestDatabase();

interface ScheduleJson {
  name: string;
  cron: string;
  timezone: string;
  paused: boolean;
  missed: string;
  catch_up_limit: number;
  next_run_at: string | null;
  next_runs: string[];
  last_job_id: string | null;
  job: { command: string };
}

async function schedules() {
  return (await db.pool.query("SELECT name, cron, timezone, paused, missed, next_run_at FROM schedules ORDER BY name")).rows;
}

describe("schedule", () => {
  it("adds a schedule and lists its next run times in its time zone", async () => {
    const added = await queuectl(["schedule", "add", "nightly", "0 3 * * *", '{"command":"echo backup"}', "--timezone", "Europe/Berlin"]);
    expect(added).toMatchObject({ code: 0, stderr: "" });
    expect(added.stdout).toMatch(/^schedule 'nightly' added; next run \d{4}-\d\d-\d\dT0[12]:00:00.000Z \(in \d+[hms]\)$/);

    const [s] = await queuectlJson<ScheduleJson[]>(["schedule", "list", "--next", "3"]);
    expect(s).toMatchObject({ name: "nightly", cron: "0 3 * * *", timezone: "Europe/Berlin", paused: false, missed: "skip", last_job_id: null, job: { command: "echo backup" } });
    // 03:00 in Berlin is 02:00 UTC in winter, 01:00 UTC in summer; three runs a day apart.
    expect(s!.next_runs).toHaveLength(3);
    for (const t of s!.next_runs) expect(t).toMatch(/T0[12]:00:00.000Z$/);
    expect(new Date(s!.next_runs[1]!).getTime() - new Date(s!.next_runs[0]!).getTime()).toBeGreaterThanOrEqual(23 * 3600_000);

    const table = await queuectl(["schedule", "list"]);
    expect(table.stdout).toMatch(/^name\s+cron\s+timezone\s+state\s+next run\s+last job\s+command/);
    expect(table.stdout).toMatch(/nightly\s+0 3 \* \* \*\s+Europe\/Berlin\s+active \(skip\)\s+\S+ \(in \d+[hms]\)\s+-\s+echo backup/);
  });

  it("masks secret-looking env values of a schedule's job in --json, as show and list do for a job's", async () => {
    await queuectl(["schedule", "add", "with-secret", "0 4 * * *", '{"command":"dump","env":{"DB_PASSWORD":"hunter2","TZ":"UTC"}}']);
    const list = await queuectl(["schedule", "list", "--json"]);
    expect(list.stdout).not.toContain("hunter2");
    const s = (JSON.parse(list.stdout) as Array<ScheduleJson & { job: { env: Record<string, string> } }>).find((x) => x.name === "with-secret");
    expect(s?.job.env).toEqual({ DB_PASSWORD: "***", TZ: "UTC" });
    await queuectl(["schedule", "remove", "with-secret"]);
  });

  it("pauses and resumes a schedule", async () => {
    expect(await queuectl(["schedule", "pause", "nightly"])).toMatchObject({ code: 0, stdout: "schedule 'nightly' paused" });
    const [paused] = await queuectlJson<ScheduleJson[]>(["schedule", "list"]);
    expect(paused).toMatchObject({ paused: true, next_run_at: null, next_runs: [] });
    expect((await queuectl(["schedule", "list"])).stdout).toMatch(/nightly\s+.*paused\s+-/);
    expect(await queuectl(["schedule", "pause", "nightly"])).toMatchObject({ code: 2, stderr: "queuectl: schedule 'nightly' is already paused" });
    const resumed = await queuectl(["schedule", "resume", "nightly"]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^schedule 'nightly' resumed; next run /);
  });

  it("refuses bad input in one line, exit 2, and changes nothing", async () => {
    const before = await schedules();
    const cases: Array<[string[], RegExp]> = [
      [["schedule", "add", "bad", "61 * * * *", '{"command":"true"}'], /^queuectl: invalid cron expression '61 \* \* \* \*': .*range 0-59$/],
      [["schedule", "add", "bad", "every day", '{"command":"true"}'], /^queuectl: invalid cron expression 'every day'/],
      [["schedule", "add", "bad", "* * * * *", '{"command":"true"}', "--timezone", "Mars/Olympus"], /^queuectl: unknown time zone 'Mars\/Olympus' \(use an IANA name such as UTC or Europe\/Berlin\)$/],
      [["schedule", "add", "bad", "* * * * *", '{"command":"true","id":"x"}'], /^queuectl: job: a scheduled job cannot set 'id'/],
      [["schedule", "add", "bad", "* * * * *", '{"command":"true","priorty":1}'], /^queuectl: job: unknown field 'priorty'$/],
      [["schedule", "add", "bad", "* * * * *", "{not json"], /^queuectl: job: not valid JSON/],
      [["schedule", "add", "bad name", "* * * * *", '{"command":"true"}'], /^queuectl: schedule name 'bad name' must be/],
      [["schedule", "add", "bad", "* * * * *", '{"command":"true"}', "--missed", "never"], /^queuectl: --missed must be one of skip, catch-up/],
      [["schedule", "add", "nightly", "* * * * *", '{"command":"true"}'], /^queuectl: schedule 'nightly' already exists/],
    ];
    for (const [args, stderr] of cases) {
      const res = await queuectl(args);
      expect({ args, code: res.code, stdout: res.stdout }).toEqual({ args, code: 2, stdout: "" });
      expect(res.stderr).toMatch(stderr);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(await schedules()).toEqual(before);
  });

  it("an unknown schedule name exits 3", async () => {
    for (const verb of ["remove", "pause", "resume"]) {
      expect(await queuectl(["schedule", verb, "nope"])).toMatchObject({ code: 3, stdout: "", stderr: "queuectl: no schedule 'nope'" });
    }
  });

  it("removes a schedule", async () => {
    expect(await queuectl(["schedule", "remove", "nightly"])).toMatchObject({ code: 0, stdout: "schedule 'nightly' removed" });
    expect(await queuectlJson(["schedule", "list"])).toEqual([]);
    expect((await queuectl(["schedule", "list"])).stdout).toBe("(no schedules: add one with queuectl schedule add)");
  });
});
