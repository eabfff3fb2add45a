/**
 * The randomized checker's record of what ran: the lines recorder.pl appended, read as runs, plus when
 * each run was last seen alive (a run killed by a signal writes no end line).
 */
import { readFileSync } from "node:fs";

/** One run of a job's command: an attempt as the recorder saw it. Times: wall clock, ms. */
export interface Run {
  job: string;
  attempt: number;
  pid: number;
  start: number;
  /** When it wrote its end line (it ended on its own), else undefined. */
  end?: number;
  exit?: number;
  /** The last moment it was seen alive (for runs that were killed: a lower bound of their end). */
  lastAlive: number;
  /** The first moment it was seen gone (an upper bound of its end). */
  goneAt?: number;
}

/** A run that found an earlier run of the same job still alive when it began. */
export interface Overlap {
  job: string;
  attempt: number;
  pid: number;
  otherPid: number;
  at: number;
}

export class History {
  readonly runs: Run[] = [];
  readonly overlaps: Overlap[] = [];
  /** Raw lines, for printing the part of the history that breaks an invariant. */
  readonly lines: string[] = [];
  private readonly byPid = new Map<number, Run>();
  private offset = 0;

  constructor(private readonly file: string) {}

  /** Reads the lines appended since the last call. */
  poll(): void {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch {
      return;
    }
    const fresh = text.slice(this.offset);
    const lastNl = fresh.lastIndexOf("\n");
    if (lastNl < 0) return;
    this.offset += lastNl + 1;
    for (const line of fresh.slice(0, lastNl).split("\n")) this.add(line);
  }

  private add(line: string): void {
    this.lines.push(line);
    const f = line.split(" ");
    if (f[0] === "S") {
      const run: Run = { job: f[1]!, attempt: Number(f[2]), pid: Number(f[3]), start: Number(f[4]), lastAlive: Number(f[4]) };
      this.runs.push(run);
      this.byPid.set(run.pid, run);
    } else if (f[0] === "E") {
      const run = this.byPid.get(Number(f[3]));
      if (run) {
        run.end = Number(f[4]);
        run.exit = Number(f[5]);
        run.lastAlive = run.end;
      }
    } else if (f[0] === "O") {
      this.overlaps.push({ job: f[1]!, attempt: Number(f[2]), pid: Number(f[3]), otherPid: Number(f[4]), at: Number(f[5]) });
    }
  }

  /** Notes which runs without an end line are still alive (their process, with this job's id in its environment). */
  observe(now: number): void {
    for (const run of this.runs) {
      if (run.end !== undefined || run.goneAt !== undefined) continue;
      if (alive(run.pid, run.job)) run.lastAlive = now;
      else run.goneAt = now;
    }
  }

  /** The lines that name `job`. */
  linesOf(job: string): string[] {
    return this.lines.filter((l) => l.split(" ")[1] === job);
  }
}

/** Whether `pid` is a live process of `job` (a pid reused by another process does not count). */
function alive(pid: number, job: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return false;
    return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(`QUEUECTL_JOB_ID=${job}`);
  } catch {
    return false;
  }
}
