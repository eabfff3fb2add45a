/**
 * One job's page (/jobs/:id, the id in <main data-job-id>): its fields, dependency chain, DLQ entry and
 * every attempt with its captured output; retry (from the DLQ) and cancel buttons.
 */
import { ApiError, errorMessage, request } from "../api.js";
import { button, h } from "../dom.js";
import { duration, relative, serverNow } from "../format.js";
import { refresh } from "../live.js";
import { badge, failBox, flash, flashBox, jobLink, muted, pageHead, progress, STATE_HELP, time } from "../ui.js";

/** @import { CancelAnswer, ChainLink, JobAnswer } from "../../api-types.js" */
/** @import { Child } from "../dom.js" */
/** @import { PageContext, View } from "../live.js" */

/**
 * A term and its description in a <dl>.
 * @param {string} label
 * @param {Child} value
 */
function field(label, value) {
  return [h("dt", null, label), h("dd", null, value)];
}

/**
 * The jobs one waits for, or that wait for it, indented by distance.
 * @param {readonly ChainLink[]} links
 * @param {string} empty
 */
function chainList(links, empty) {
  if (!links.length) return h("p", { class: "muted" }, empty);
  return h(
    "ul",
    { class: "chain" },
    links.map((l) =>
      h("li", { "data-chain-id": l.id, class: "depth-" + Math.min(l.depth, 6) }, [
        jobLink(l.id),
        " ",
        badge(l.state),
        " ",
        h("span", { class: "muted mono" }, l.command),
      ]),
    ),
  );
}

/**
 * @param {PageContext} ctx
 * @returns {View<JobAnswer>}
 */
export function jobPage({ main, canAct }) {
  const id = main.dataset.jobId ?? "";
  /**
   * Attempts the user opened or closed ("attempt@started_at" -> open), kept across refreshes.
   * @type {Map<string, boolean>}
   */
  const openAttempts = new Map();
  /** A retry or cancel is running: refreshes wait for it. */
  let acting = false;

  /**
   * Runs a change of the job (retry, cancel) and shows its outcome.
   * @param {HTMLButtonElement} b
   * @param {() => Promise<Child>} run resolves to the message to show
   */
  async function act(b, run) {
    b.disabled = true;
    acting = true;
    try {
      flash("ok", await run());
    } catch (err) {
      flash("err", errorMessage(err));
    }
    acting = false;
    await refresh(true);
  }
  const cancelButton = () =>
    button({ class: "danger", id: "cancel-job" }, "Cancel job", (b) =>
      act(b, async () => {
        /** @type {CancelAnswer} */
        const r = await request("POST", "/api/jobs/" + encodeURIComponent(id) + "/cancel", {});
        return r.state === "processing" ? "Cancel of job " + id + " sent: its command is being stopped." : "Job " + id + " cancelled.";
      }),
    );
  const retryButton = () =>
    button({ class: "primary", id: "retry-job" }, "Retry job", (b) =>
      act(b, async () => {
        await request("POST", "/api/dlq/" + encodeURIComponent(id) + "/retry", {});
        return "Job " + id + " is pending again (attempts reset).";
      }),
    );

  return {
    url: () => "/api/jobs/" + encodeURIComponent(id),
    render(d) {
      const j = d.job;
      /** @type {Child[]} */
      const stateText = [badge(j.state)];
      const waiting = (j.state === "pending" || j.state === "failed") && new Date(j.run_at).getTime() > serverNow();
      if (waiting) stateText.push(" ", muted("runs " + relative(j.run_at)));
      if (j.state === "processing") stateText.push(" ", muted("attempt " + j.attempts + " on " + (j.worker_id || "?")));
      const env = j.env;
      const reported = progress(j);
      const fields = h("dl", { class: "fields" }, [
        ...field("state", stateText),
        ...(reported ? field("progress", reported) : []),
        ...field("queue", h("span", { class: "mono" }, j.queue)),
        ...field("command", h("pre", { class: "command" }, j.command)),
        ...field("priority", String(j.priority)),
        ...field("attempts", j.attempts + " of " + (j.max_retries + 1) + " (max_retries " + j.max_retries + ")"),
        ...field("timeout", j.timeout_ms === null ? muted("config default") : j.timeout_ms === 0 ? "none" : duration(j.timeout_ms)),
        ...field("run at", time(j.run_at)),
        ...field("created", time(j.created_at)),
        ...field("started", time(j.started_at)),
        ...field("finished", time(j.finished_at)),
        ...field("duration", duration(j.duration_ms)),
        ...field("worker", j.worker_id ? h("span", { class: "mono" }, j.worker_id) : muted("-")),
        ...field("exit code", j.exit_code === null ? muted("-") : String(j.exit_code)),
        ...field("last error", j.last_error ? h("span", { class: "mono" }, j.last_error) : muted("-")),
        ...field("cwd", j.cwd ? h("span", { class: "mono" }, j.cwd) : muted("-")),
        ...field(
          "env",
          env && Object.keys(env).length
            ? h(
                "pre",
                { class: "command", id: "job-env" },
                Object.entries(env)
                  .map(([k, v]) => k + "=" + v)
                  .join("\n"),
              )
            : muted("-"),
        ),
      ]);
      const chain =
        d.upstream.length || d.downstream.length
          ? h("section", { class: "card", id: "dependencies" }, [
              h("h2", null, "Dependencies"),
              j.state === "pending" && j.deps_pending > 0
                ? h("p", null, "Waiting for " + j.deps_pending + (j.deps_pending === 1 ? " dependency" : " dependencies") + " to complete.")
                : null,
              h("h3", null, "Runs after"),
              chainList(d.upstream, "nothing: it does not wait for other jobs"),
              h("h3", null, "Runs before"),
              chainList(d.downstream, "nothing waits for it"),
            ])
          : null;
      const dead = d.dead_letter
        ? h("section", { class: "card dead-box", id: "dead-letter" }, [
            h("h2", null, "In the dead letter queue"),
            h("dl", { class: "fields" }, [
              ...field("reason", d.dead_letter.reason),
              ...field("last error", d.dead_letter.last_error || "-"),
              ...field("died", time(d.dead_letter.failed_at)),
            ]),
          ])
        : null;

      // Newest first; only the newest is open unless the user opened or closed others.
      const newestFirst = d.history.slice().reverse();
      const latest = newestFirst.length ? newestFirst[0].attempt + "@" + newestFirst[0].started_at : null;
      const attempts = newestFirst.map((a) => {
        const key = a.attempt + "@" + a.started_at;
        const outcome =
          a.finished_at === null
            ? badge("processing")
            : a.error
              ? h("span", { class: "badge state-dead" }, "failed")
              : h("span", { class: "badge state-completed" }, "succeeded");
        const details = h("details", { class: "attempt", open: openAttempts.get(key) ?? key === latest, "data-attempt": a.attempt }, [
          h("summary", null, [
            h("span", { class: "num" }, "Attempt " + a.attempt),
            outcome,
            h("span", { class: "muted" }, "started "),
            time(a.started_at),
            h("span", { class: "muted" }, a.finished_at ? "took " + duration(a.duration_ms) : "running"),
            a.exit_code !== null ? h("span", { class: "muted" }, "exit " + a.exit_code) : null,
            h("span", { class: "muted mono" }, a.worker_id),
          ]),
          h("div", { class: "body" }, [
            a.error ? h("p", { class: "field-error mono" }, a.error) : null,
            a.output === null
              ? muted(a.finished_at ? "no output captured" : "output appears when the attempt ends")
              : a.output === ""
                ? muted("no output")
                : h("pre", { class: "output" }, a.output),
          ]),
        ]);
        details.addEventListener("toggle", () => openAttempts.set(key, details.open));
        return details;
      });

      main.replaceChildren(
        pageHead(h("span", { class: "mono" }, j.id), null, [
          canAct && j.state === "dead" ? retryButton() : null,
          canAct && (j.state === "pending" || j.state === "failed" || j.state === "processing") ? cancelButton() : null,
          h("a", { class: "btn", href: "/jobs" }, "All jobs"),
        ]),
        flashBox,
        h("div", { class: "grid-2 section" }, [
          h("section", { class: "card" }, [h("h2", null, "Job"), fields]),
          h("div", null, [
            dead,
            chain,
            h("section", { class: "card" }, [
              h("h2", null, "Summary"),
              h("p", null, [badge(j.state), " ", STATE_HELP[j.state]]),
              h("p", { class: "muted" }, d.history.length + (d.history.length === 1 ? " attempt" : " attempts") + " recorded"),
            ]),
          ]),
        ]),
        h("section", { class: "section", id: "history" }, [
          h("h2", null, "Attempts"),
          attempts.length ? attempts : h("p", { class: "muted" }, "No attempt yet: the job has not been claimed by a worker."),
        ]),
      );
    },
    busy: () => acting,
    fail(err) {
      main.replaceChildren(
        pageHead(h("span", { class: "mono" }, id), null, [h("a", { class: "btn", href: "/jobs" }, "All jobs")]),
        err instanceof ApiError && err.status === 404
          ? h("p", { class: "error-box" }, "There is no job " + id + " (it may have been removed).")
          : failBox(err),
      );
    },
  };
}
