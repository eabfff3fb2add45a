/**
 * Keeps the last `limitBytes` of a command's output in memory however much it prints (a command that
 * prints 200 MB costs the worker `limitBytes`, not 200 MB). The tail is what an operator needs: the
 * error is at the end.
 */
export class OutputTail {
  private chunks: Buffer[] = [];
  private kept = 0;
  /** Bytes seen in total, kept or dropped. */
  total = 0;

  constructor(private readonly limitBytes: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.limitBytes <= 0) return;
    if (chunk.length >= this.limitBytes) {
      this.chunks = [chunk.subarray(chunk.length - this.limitBytes)];
      this.kept = this.limitBytes;
      return;
    }
    this.chunks.push(chunk);
    this.kept += chunk.length;
    while (this.kept - (this.chunks[0]?.length ?? 0) >= this.limitBytes) {
      this.kept -= this.chunks.shift()!.length;
    }
  }

  /**
   * The kept tail as text PostgreSQL accepts: invalid UTF-8 becomes U+FFFD and NUL bytes (which a
   * text column rejects) become U+2400, with a note of how much was dropped.
   */
  text(): string {
    let buf = Buffer.concat(this.chunks);
    if (buf.length > this.limitBytes) buf = buf.subarray(buf.length - this.limitBytes);
    return outputText(buf, this.total, this.limitBytes);
  }
}

/** A kept tail of `total` bytes of output as stored text; see OutputTail.text. */
export function outputText(tail: Buffer, total: number, limitBytes: number): string {
  const dropped = total - tail.length;
  const body = tail.toString("utf8").replace(/\u0000/g, "\u2400");
  return dropped > 0 ? `[… ${dropped} earlier bytes not kept (output_limit_bytes=${limitBytes}) …]\n${body}` : body;
}
