/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal (scripts and pipes see
 * nothing of it), redrawn at most every 100 ms, and erased when done.
 */
export interface ProgressBar {
  update(done: number, total: number, note?: string): void;
  /** Erases the bar. */
  done(): void;
}

const WIDTH = 30;

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  if (!stream.isTTY) return { update() {}, done() {} };
  let last = 0;
  let drawn = false;
  return {
    update(done, total, note) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const share = total > 0 ? Math.min(1, done / total) : 1;
      const filled = Math.round(share * WIDTH);
      stream.write(`\r${label} [${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${done}/${total}${note ? ` ${note}` : ""}\u001b[K`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write("\r\u001b[K");
    },
  };
}
