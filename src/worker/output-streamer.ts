/**
 * Sends the output of running commands to the database while they run, so `logs --follow` can stream
 * it from any host. Cheap when nobody follows and for short jobs: one timer per worker, not per job;
 * a flush every FLUSH_INTERVAL_MS writes every job's new output in ONE statement, and only when some
 * job printed something since the last flush. A job that ends before its first flush costs nothing
 * here: its output is recorded with its outcome (job_attempts.output), which is what followers read
 * for a finished attempt. Chunks of finished attempts are deleted in the next flush, in one statement.
 */
import { StringDecoder } from "node:string_decoder";
import type pg from "pg";
import { appendJobOutput, deleteJobOutput, type OutputChunk } from "../queue/sql/live-output.js";
import type { Logger } from "./logger.js";

/** Longest a running job's new output waits before it is written, in ms. */
export const FLUSH_INTERVAL_MS = 500;

interface Stream {
  jobId: string;
  attempt: number;
  decoder: StringDecoder;
  pending: string;
  /** Some chunk of this attempt was written (so there is something to delete at the end). */
  written: boolean;
}

export class OutputStreamer {
  private readonly streams = new Map<string, Stream>();
  private finished: Array<{ jobId: string; attempt: number }> = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(private readonly deps: { pool: pg.Pool; log: Logger; limitBytes: () => number }) {}

  /** Starts collecting a job's output; returns the callback for runCommand's onOutput. */
  open(jobId: string, attempt: number): (chunk: Buffer) => void {
    const stream: Stream = { jobId, attempt, decoder: new StringDecoder("utf8"), pending: "", written: false };
    this.streams.set(jobId, stream);
    return (chunk) => {
      stream.pending += stream.decoder.write(chunk);
      // Keep at most the configured tail of what waits for a flush (a command printing fast).
      const limit = this.deps.limitBytes();
      if (stream.pending.length > limit) stream.pending = stream.pending.slice(stream.pending.length - limit);
      this.schedule();
    };
  }

  /** The job ended: drop what waits (its outcome carries the output) and delete its chunks later. */
  close(jobId: string): void {
    const stream = this.streams.get(jobId);
    if (!stream) return;
    this.streams.delete(jobId);
    if (stream.written) {
      this.finished.push({ jobId: stream.jobId, attempt: stream.attempt });
      this.schedule();
    }
  }

  /** Writes what waits now (tests, shutdown). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    const chunks: OutputChunk[] = [];
    for (const s of this.streams.values()) {
      if (s.pending === "") continue;
      chunks.push({ jobId: s.jobId, attempt: s.attempt, chunk: s.pending.replace(/\u0000/g, "\u2400") });
      s.pending = "";
      s.written = true;
    }
    const finished = this.finished;
    this.finished = [];
    if (chunks.length === 0 && finished.length === 0) return;
    this.flushing = (async () => {
      try {
        await appendJobOutput(this.deps.pool, chunks);
        await deleteJobOutput(this.deps.pool, finished);
      } catch (err) {
        // Live output is best effort: the attempt's outcome still records the output tail.
        this.deps.log.warn({ err: (err as Error).message }, "could not write live output");
      }
    })();
    await this.flushing;
    this.flushing = undefined;
  }

  async stop(): Promise<void> {
    await this.flush();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, FLUSH_INTERVAL_MS);
    this.timer.unref();
  }
}
