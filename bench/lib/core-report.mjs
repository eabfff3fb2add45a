/**
 * The core benchmark's report (bench/core.mjs): one line per measurement with its goal and verdict,
 * and the load on the machine during each phase. Takes the results object core.mjs builds.
 */
import { round } from "./stats.mjs";

/** Prints the report of `results` against `goals` ({ ratio, p95Ms, enqueuePerS }); `note` goes in the title. */
export function printCoreReport(results, goals, note) {
  const verdict = (ok) => (ok === null ? "-" : ok ? "PASS" : "MISS");
  const rows = [];
  const fmt = (x, unit = "") => (x === null || x === undefined ? "n/a" : `${typeof x === "number" ? x.toLocaleString("en-US") : x}${unit}`);
  if (results.a) {
    const a = results.a;
    rows.push(["(a) worker throughput (first claim -> last completion)", fmt(a.worker.jobs_per_s, " jobs/s"), "", ""]);
    rows.push(["    ceiling: node spawn `sh -c true`, 4 at a time", fmt(a.ceiling_jobs_per_s, " jobs/s"), "", ""]);
    rows.push(["    ratio worker / ceiling", fmt(a.ratio), `>= ${goals.ratio}`, verdict(a.ratio >= goals.ratio)]);
    rows.push(["    worker process wall (spawn -> exit), ratio", `${fmt(a.worker.process_wall_ms, " ms")}, ${fmt(a.ratio_process_wall)}`, "(info)", ""]);
    rows.push(["    CPU per job: worker+sh / ceiling node+sh", `${fmt(a.worker.cpu_ms_per_job_incl_sh, " ms")} / ${fmt(a.ceiling_cpu_ms_per_job, " ms")}`, "(info)", ""]);
    rows.push(["    worker CPU per job: worker+hosts / sh / postgres", `${fmt(a.worker.cpu_ms_per_job_node_only)} / ${fmt(a.worker.cpu_ms_per_job_sh_only)} / ${fmt(a.worker.postgres_cpu_ms_per_job, " ms")}`, "(info)", ""]);
    rows.push(["    DB transactions per job (pg_stat_database)", fmt(a.worker.transactions_per_job), "(info)", ""]);
    rows.push(["    CPU-cost ratio: ceiling CPU / (worker+sh+postgres)", fmt(a.cpu_cost_ratio), "(info)", ""]);
    if (a.xargs_jobs_per_s !== undefined) {
      rows.push(["    the physical limit: xargs -P4 sh -c true", `${fmt(a.xargs_jobs_per_s, " jobs/s")}, ${fmt(a.xargs_cpu_ms_per_job, " ms")} CPU a job`, "", ""]);
      rows.push(["    ratio worker / xargs -P4", fmt(a.ratio_xargs), `>= ${goals.ratioXargs}`, verdict(a.ratio_xargs >= goals.ratioXargs)]);
      rows.push(["    CPU-cost ratio: xargs CPU / (worker+sh+postgres)", fmt(a.cpu_cost_ratio_xargs), "(info)", ""]);
    }
  }
  if (results.b) {
    const b = results.b.latency_from_commit_ms;
    rows.push(["(b) pickup latency p50 (commit -> claim, DB clock)", fmt(b.p50, " ms"), "", ""]);
    rows.push(["    pickup latency p95", fmt(b.p95, " ms"), `< ${goals.p95Ms} ms`, verdict(b.p95 < goals.p95Ms)]);
    rows.push(["    max / from created_at p50,p95", `${fmt(b.max, " ms")} / ${fmt(results.b.latency_from_created_at_ms.p50)}, ${fmt(results.b.latency_from_created_at_ms.p95, " ms")}`, "(info)", ""]);
    const c = results.b.commit_ack_to_command_running_ms;
    if (c) rows.push(["    commit ack -> command running p50,p95", `${fmt(c.p50)}, ${fmt(c.p95, " ms")}`, "(info)", ""]);
  }
  if (results.c) {
    const c = results.c;
    const cliRate = c.cli.jobs_per_s ?? null;
    rows.push(["(c) `enqueue --file` 20000 jobs, end to end", c.cli.error ? `error: ${c.cli.error}` : `${fmt(cliRate, " jobs/s")} (${fmt(c.cli.ms, " ms")})`, `>= ${goals.enqueuePerS.toLocaleString("en-US")}/s`, verdict(cliRate === null ? false : cliRate >= goals.enqueuePerS)]);
    if (c.in_process?.error) rows.push(["    in-process", c.in_process.error, "", ""]);
    else if (c.in_process) {
      rows.push(["    in-process read+validate+insert+commit (warm)", `${fmt(c.in_process.total_jobs_per_s, " jobs/s")} (${fmt(c.in_process.total_ms, " ms")})`, `>= ${goals.enqueuePerS.toLocaleString("en-US")}/s`, verdict(c.in_process.total_jobs_per_s >= goals.enqueuePerS)]);
      rows.push(["    in-process insert+commit only (warm)", `${fmt(c.in_process.insert_jobs_per_s, " jobs/s")} (${fmt(c.in_process.insert_commit_ms, " ms")})`, "(info)", ""]);
      rows.push(["    in-process read+validate (warm / cold)", `${fmt(c.in_process.read_validate_ms)} / ${fmt(c.in_process_cold.read_validate_ms, " ms")}`, "(info)", ""]);
    }
    rows.push(["    CLI fixed cost: --version / config list", `${fmt(round(c.cli_version_ms, 0))} / ${fmt(round(c.cli_config_list_ms, 0), " ms")}`, "(info)", ""]);
  }
  const loads = ["a", "b", "c"]
    .filter((k) => results[k])
    .map((k) => {
      const l = k === "a" ? results.a.worker.load : k === "b" ? results.b.load : results.c.cli?.load;
      return l ? `${k}: machine ${l.machine_busy_pct}% busy, not us ${l.others_incl_postgres_pct}% (incl. postgres serving us), load1 ${l.load1}` : null;
    })
    .filter(Boolean);

  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => String(r[i]).length), ["measurement", "result", "goal", ""][i].length));
  const line = (r) => r.map((c, i) => String(c).padEnd(widths[i])).join("  ").trimEnd();
  console.log(`\nqueuectl core benchmark — ${results.date} — ${results.cpus} CPUs, node ${results.node}, PostgreSQL ${results.postgres}${note ? ` — ${note}` : ""}`);
  console.log(line(["measurement", "result", "goal", ""]));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const r of rows) console.log(line(r));
  if (loads.length) console.log(`load during phases: ${loads.join("; ")}`);
  if (results.error) console.log(`ERROR: ${results.error}`);
}
