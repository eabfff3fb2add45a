/** `queuectl config get/set/list`: defaults, validated changes, unknown keys (exit 3), bad values (exit 2). */
import { describe, expect, it } from "vitest";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { enqueue, startWorkerProcess, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();

const DEFAULTS = {
  max_retries: 3,
  backoff_base: 2,
  backoff_max_s: 3600,
  job_timeout_ms: 0,
  poll_interval_ms: 1000,
  lease_ms: 30_000,
  output_limit_bytes: 262_144,
  backoff_jitter: 0,
  retention_completed: 0,
  retention_audit: 0,
  vacuum_dead_rows: 300,
  env_allowlist: "*",
  pass_env: "",
};

async function storedRows() {
  return (await db.pool.query("SELECT key, value, updated_at FROM config ORDER BY key")).rows;
}

describe("config", () => {
  it("lists every key with its default, as JSON numbers and as a table", async () => {
    expect(await queuectlJson(["config", "list"])).toEqual(DEFAULTS);
    expect(await queuectlJson(["config", "get"])).toEqual(DEFAULTS);
    const res = await queuectl(["config", "list"]);
    expect(res.stdout).toMatch(/^key\s+value\s+default\s+meaning/);
    expect(res.stdout).toMatch(/^max_retries\s+3\s+3\s+retries after the first attempt/m);
  });

  it("sets a value that get and list then show", async () => {
    expect(await queuectl(["config", "set", "max_retries", "5"])).toMatchObject({ code: 0, stdout: "max_retries = 5 (was 3); running workers apply it from their next claim" });
    expect(await queuectl(["config", "get", "max_retries"])).toMatchObject({ code: 0, stdout: "5" });
    expect(await queuectlJson(["config", "get", "max_retries"])).toEqual({ key: "max_retries", value: 5 });
    expect(await queuectlJson(["config", "set", "backoff_base", "1.5"])).toEqual({ key: "backoff_base", value: 1.5, previous: 2 });
    expect(await queuectlJson(["config", "list"])).toEqual({ ...DEFAULTS, max_retries: 5, backoff_base: 1.5 });
    expect(await queuectl(["config", "set", "max_retries", "5"])).toMatchObject({ code: 0, stdout: "max_retries = 5 (unchanged)" });
  });

  it("env_allowlist takes *, - or a list of names and prefixes, normalised", async () => {
    expect(await queuectlJson(["config", "set", "env_allowlist", " APP_*, TZ "])).toEqual({ key: "env_allowlist", value: "APP_*,TZ", previous: "*" });
    const bad = await queuectl(["config", "set", "env_allowlist", "APP-*"]);
    expect(bad).toMatchObject({ code: 2, stdout: "" });
    expect(bad.stderr).toMatch(/^queuectl: config env_allowlist: invalid value 'APP-\*' \(use \* \(any\), - \(none\), or a comma list/);
    expect(await queuectlJson(["config", "set", "env_allowlist", "*"])).toEqual({ key: "env_allowlist", value: "*", previous: "APP_*,TZ" });
  });

  it("refuses unknown keys with exit 3 and bad values with exit 2, changing nothing", async () => {
    const before = await storedRows();
    const cases: Array<[string[], number, RegExp]> = [
      [["config", "get", "retries"], 3, /^queuectl: unknown config key 'retries' \(known: max_retries, /],
      [["config", "get", "retries", "--json"], 3, /unknown config key 'retries'/],
      [["config", "set", "retries", "3"], 3, /unknown config key 'retries'/],
      [["config", "set", "max_retries", "-1"], 2, /^queuectl: config max_retries: invalid value '-1'/],
      [["config", "set", "max_retries", "2.5"], 2, /config max_retries: invalid value '2.5'/],
      [["config", "set", "max_retries", "lots"], 2, /config max_retries: invalid value 'lots'/],
      [["config", "set", "lease_ms", "10"], 2, /config lease_ms: invalid value '10'/],
      [["config", "set", "poll_interval_ms", ""], 2, /config poll_interval_ms: a value is required/],
    ];
    const results = await Promise.all(cases.map(([args]) => queuectl(args)));
    results.forEach((res, i) => {
      const what = cases[i]![0].join(" ");
      expect(res.code, what).toBe(cases[i]![1]);
      expect(res.stdout, what).toBe("");
      expect(res.stderr.split("\n"), what).toHaveLength(1);
      expect(res.stderr, what).toMatch(cases[i]![2]);
    });
    expect(await storedRows()).toEqual(before);
  });

  it("needs both a key and a value to set (usage error, exit 2)", async () => {
    const res = await queuectl(["config", "set", "max_retries"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/missing required argument 'value'/);
  });

  it("reaches running workers at once through NOTIFY, long before their heartbeat: the next claim uses it", async () => {
    // A heartbeat every lease_ms / 3 = 20 s: a change seen sooner came by notification.
    await queuectl(["config", "set", "lease_ms", "60000"]);
    const worker = startWorkerProcess(["--queue", "notify"], { QUEUECTL_LOG_LEVEL: "info" });
    try {
      await waitFor(() => worker.log().includes('"msg":"worker started"'), { what: "the worker to start" });
      const setAt = Date.now();
      expect((await queuectl(["config", "set", "job_timeout_ms", "300"])).code).toBe(0);
      await waitFor(() => /"key":"job_timeout_ms","value":300,"msg":"config changed"/.test(worker.log()), { what: `the worker to reload; log: ${worker.log()}` });
      const tookMs = Date.now() - setAt;
      expect(tookMs).toBeLessThan(20_000);
      // The next claim applies it: a job without a timeout of its own is ended at 300 ms.
      await enqueue(db.pool, [{ id: "notify-1", command: "sleep 5", queue: "notify", max_retries: 0 }]);
      const job = await waitFor(async () => {
        const r = await db.pool.query<{ state: string; last_error: string | null; duration_ms: number | null }>("SELECT state, last_error, duration_ms FROM jobs WHERE id = 'notify-1'");
        return r.rows[0]?.state === "dead" ? r.rows[0] : undefined;
      }, { what: "the job to time out" });
      expect(job!.last_error).toMatch(/timed out after 300 ms/);
      console.log(`config set -> worker reloaded: ${tookMs} ms`);
    } finally {
      worker.child.kill("SIGTERM");
      await worker.exited;
      await queuectl(["config", "set", "job_timeout_ms", "0"]);
      await queuectl(["config", "set", "lease_ms", "30000"]);
    }
  });
});
