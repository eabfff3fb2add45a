/**
 * Progress from shell commands: each run gets a file of its own, named in $QUEUECTL_PROGRESS, to
 * which the command writes lines such as `40 copying table 3/7` (a percentage, then a message; either
 * may be left out). The worker reads the last line of each running command's file at its heartbeat
 * and hands what changed to the heartbeat's statement, so a report costs no statement of its own and
 * the job's row is written at most once a beat, however often the command writes.
 *
 * The files live in a directory of this worker's (mode 0711: others may reach a file by its name but
 * not list them); with `--run-as` each file belongs to the user commands run as, who alone may write it.
 */
import { chmodSync, chownSync, closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** What a command last reported: a percentage (null: a message alone) and a message (null: none). */
export interface ProgressReport {
  pct: number | null;
  message: string | null;
}

/** How much of the end of a file is read for its last line: a line longer than this is not a report. */
const TAIL_BYTES = 4096;
/** Longest message stored; longer ones are cut. */
export const MAX_PROGRESS_MESSAGE = 200;

/**
 * The report in one line, or undefined for a blank one: an optional number (0-100, a fraction is
 * rounded, a trailing % allowed) and the rest of the line as the message.
 */
export function parseProgressLine(line: string): ProgressReport | undefined {
  const text = line.trim();
  if (text === "") return undefined;
  const m = /^(\d{1,3}(?:\.\d+)?)\s*%?(?:\s+(.*))?$/s.exec(text);
  const pct = m ? Math.min(100, Math.round(Number(m[1]))) : null;
  const rest = (m ? (m[2] ?? "") : text).trim();
  const message = rest === "" ? null : rest.length > MAX_PROGRESS_MESSAGE ? `${rest.slice(0, MAX_PROGRESS_MESSAGE - 1)}…` : rest;
  return { pct, message };
}

/** The last non-blank line among the last TAIL_BYTES of `path`, parsed; undefined when there is none. */
async function readLastReport(path: string): Promise<ProgressReport | undefined> {
  const file = await open(path, "r");
  try {
    const { size } = await file.stat();
    if (size === 0) return undefined;
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await file.read(buffer, 0, length, size - length);
    const lines = buffer.toString("utf8").split("\n");
    // A tail that starts mid-line: its first piece is not a whole line.
    if (length < size) lines.shift();
    for (let i = lines.length - 1; i >= 0; i--) {
      const report = parseProgressLine(lines[i]!);
      if (report) return report;
    }
    return undefined;
  } finally {
    await file.close();
  }
}

export class ProgressReports {
  private dir: string | undefined;
  /** Runs given a file so far: names each file uniquely within the directory. */
  private opened = 0;
  /** Each running job's file and what was last handed on from it. */
  private readonly files = new Map<string, { path: string; sent: string | undefined }>();

  /** `owner`: the user commands run as (`--run-as`), who must be able to write the files. */
  constructor(private readonly owner?: { uid: number; gid: number }) {}

  /** Creates the empty progress file of a run starting now; returns its path for $QUEUECTL_PROGRESS. */
  open(jobId: string, attempt: number): string {
    if (!this.dir) {
      this.dir = mkdtempSync(join(tmpdir(), "queuectl-progress-"));
      // mkdtemp makes it 0700; a command run as another user must reach its own file, and only by name.
      chmodSync(this.dir, 0o711);
    }
    const path = join(this.dir, `${++this.opened}.${attempt}`);
    closeSync(openSync(path, "wx", 0o600));
    if (this.owner) chownSync(path, this.owner.uid, this.owner.gid);
    this.files.set(jobId, { path, sent: undefined });
    return path;
  }

  /** The run ended: its file goes. */
  close(jobId: string): void {
    const file = this.files.get(jobId);
    if (!file) return;
    this.files.delete(jobId);
    rmSync(file.path, { force: true });
  }

  /**
   * What each of `jobIds` reported since it was last handed on (jobs that wrote nothing new are
   * absent); what is returned counts as handed on. A file that cannot be read reports nothing.
   */
  async changed(jobIds: readonly string[]): Promise<Map<string, ProgressReport>> {
    const out = new Map<string, ProgressReport>();
    await Promise.all(
      jobIds.map(async (id) => {
        const file = this.files.get(id);
        if (!file) return;
        const report = await readLastReport(file.path).catch(() => undefined);
        if (!report) return;
        const key = JSON.stringify(report);
        if (key === file.sent) return;
        file.sent = key;
        out.set(id, report);
      }),
    );
    return out;
  }

  /** Removes the directory and every file left in it (the worker stops). */
  dispose(): void {
    this.files.clear();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
