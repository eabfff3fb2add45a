/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal (scripts and pipes see
 * nothing of it), redrawn at most every 100 ms, and erased when done.
 */
export interface ProgressBar {
  update(done: number, total: number, note?: string): void;
  /** A share reported as a percentage (a job's $QUEUECTL_PROGRESS), drawn as "40% note". */
  percent(pct: number, note?: string): void;
  /** Erases the bar until the next update (other output is about to be written). */
  hide(): void;
  /** Erases the bar. */
  done(): void;
}

const WIDTH = 30;

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  if (!stream.isTTY) return { update() {}, percent() {}, hide() {}, done() {} };
  let last = 0;
  /** Whether the bar is on the screen now (hide() took it off). */
  let shown = false;
  let drawnText = "";
  const draw = (share: number, figures: string, note: string | undefined, final: boolean) => {
    const now = Date.now();
    if (now - last < 100 && !final) return;
    last = now;
    const filled = Math.round(Math.min(1, Math.max(0, share)) * WIDTH);
    const text = `${label} [${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${figures}${note ? ` ${note}` : ""}`;
    if (shown && text === drawnText) return;
    stream.write(`\r${text}\u001b[K`);
    drawnText = text;
    shown = true;
  };
  return {
    update(done, total, note) {
      draw(total > 0 ? done / total : 1, `${done}/${total}`, note, done >= total);
    },
    percent(pct, note) {
      draw(pct / 100, `${pct}%`, note, pct >= 100);
    },
    hide() {
      if (shown) stream.write("\r\u001b[K");
      shown = false;
      last = 0;
    },
    done() {
      if (shown) stream.write("\r\u001b[K");
      shown = false;
    },
  };
}
