/**
 * The captured output of a job's attempts for `logs`: a finished attempt's output is in job_attempts
 * (the capped tail); a running one's is the chunks its worker appends to job_output while it runs.
 * `followLogs` streams a job's output from any host until the job ends (through its retries).
 */
import pg from "pg";
import { NotFoundError } from "../errors.js";
import { quoteJobId } from "./job-spec.js";
import { OUTPUT_CHANNEL } from "./sql/channels.js";
import { readJobAttempt } from "./sql/job-reads.js";
import { readJobOutput } from "./sql/live-output.js";
import type { JobState } from "./job.js";

interface AttemptView {
  state: JobState;
  attempt: number | null;
  finished: boolean;
  /** The recorded output of a finished attempt. */
  output: string | null;
}

async function attemptView(db: pg.Pool, p: { jobId: string; attempt?: number }): Promise<AttemptView> {
  const row = await readJobAttempt(db, p);
  if (!row) throw new NotFoundError(`no job ${quoteJobId(p.jobId)}`);
  if (p.attempt !== undefined && row.attempt === null) throw new NotFoundError(`job '${p.jobId}' has no attempt ${p.attempt}`);
  return { state: row.state, attempt: row.attempt, finished: row.finished === true, output: row.output };
}

export interface JobLogs {
  /** null: the job has not started yet. */
  attempt: number | null;
  running: boolean;
  output: string;
}

/** The output of the latest attempt (or `attempt`), so far when it still runs. */
export async function readLogs(db: pg.Pool, p: { jobId: string; attempt?: number }): Promise<JobLogs> {
  const view = await attemptView(db, p);
  if (view.attempt === null) return { attempt: null, running: false, output: "" };
  if (view.finished) return { attempt: view.attempt, running: false, output: view.output ?? "" };
  const chunks = await readJobOutput(db, { jobId: p.jobId, attempt: view.attempt, afterId: "0" });
  return { attempt: view.attempt, running: true, output: chunks.map((c) => c.chunk).join("") };
}

const FINAL: readonly JobState[] = ["completed", "dead", "cancelled"];

/**
 * A session LISTENing on the output channel (queuectl_output), on DATABASE_LISTEN_URL's address (a
 * transaction-mode pooler would hand the LISTEN to a server connection other clients get next).
 * Opened before `run` enqueues, so an address that does not answer fails the command with nothing
 * enqueued.
 */
export interface OutputListener {
  /** Calls `wake` whenever `jobId` wrote output (replacing any earlier callback). */
  onOutput(jobId: string, wake: () => void): void;
  close(): Promise<void>;
}

export async function listenForOutput(url: string): Promise<OutputListener> {
  const client = new pg.Client({ connectionString: url, application_name: "queuectl-logs" });
  let watched: { jobId: string; wake: () => void } | undefined;
  client.on("notification", (msg) => {
    if (watched && msg.payload === watched.jobId) watched.wake();
  });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query(`LISTEN ${OUTPUT_CHANNEL}`);
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  return {
    onOutput: (jobId, wake) => {
      watched = { jobId, wake };
    },
    close: () => client.end().catch(() => {}),
  };
}

/**
 * Writes a job's output as it is produced until the job ends (completed, dead or cancelled), across
 * its attempts; `onAttempt` is told when a new attempt starts. Wakes on the listener's notifications
 * and polls every `pollMs` besides, so a lost notification costs at most one poll. Closes `listener`.
 */
export async function followLogs(
  db: pg.Pool,
  p: { jobId: string; listener: OutputListener; write: (text: string) => void; onAttempt?: (attempt: number) => void; pollMs?: number; signal?: AbortSignal },
): Promise<JobState> {
  let wake: (() => void) | undefined;
  p.listener.onOutput(p.jobId, () => wake?.());
  try {
    let attempt: number | null = null;
    let lastId = "0";
    let printed = 0;
    for (;;) {
      const view = await attemptView(db, { jobId: p.jobId });
      if (view.attempt !== null && view.attempt !== attempt) {
        if (attempt !== null || view.attempt > 1) p.onAttempt?.(view.attempt);
        attempt = view.attempt;
        lastId = "0";
        printed = 0;
      }
      if (attempt !== null) {
        if (view.finished) {
          // The recorded output is the whole (capped) output: print what the chunks did not.
          const output = view.output ?? "";
          if (output.length > printed && !output.startsWith("[… ")) p.write(output.slice(printed));
          else if (output.startsWith("[… ") && printed === 0) p.write(output);
          printed = Math.max(printed, output.length);
        } else {
          for (const c of await readJobOutput(db, { jobId: p.jobId, attempt, afterId: lastId })) {
            p.write(c.chunk);
            printed += c.chunk.length;
            lastId = c.id;
          }
        }
      }
      if (FINAL.includes(view.state) && (view.attempt === null || view.finished)) return view.state;
      if (p.signal?.aborted) return view.state;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, p.pollMs ?? 500);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    await p.listener.close();
  }
}
