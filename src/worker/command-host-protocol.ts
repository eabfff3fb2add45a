/**
 * The messages between a worker and its command hosts (command-host.pl), declared once: the worker
 * writes requests with `encodeRequest` and reads the host's events with `HostEventReader`. The Perl
 * side follows the table at the top of command-host.pl. Each message is a header line of
 * space-separated fields; some carry a body whose length in bytes ends the header.
 */

export type HostRequest =
  /** Start `sh -c command`. leaseMs: kill the group that long from now unless renewed (0: never). */
  | { type: "run"; key: number; timeoutMs: number; outputLimit: number; live: boolean; leaseMs: number; command: string; cwd: string; env: Readonly<Record<string, string>> }
  /** The lease now runs out `leaseMs` from now. */
  | { type: "lease"; key: number; leaseMs: number }
  /** End the group: SIGTERM, then SIGKILL after the grace period. */
  | { type: "terminate"; key: number }
  /** Send one signal (by number) to the group. */
  | { type: "signal"; key: number; signum: number };

/** Why a command ended, as the host reports it. */
export type EndedBy = "itself" | "timeout" | "lease";
const ENDED_BY: readonly EndedBy[] = ["itself", "timeout", "lease"];

export type HostEvent =
  | { type: "started"; key: number; pid: number }
  | { type: "failed"; key: number; step: string; errno: number }
  | { type: "output"; key: number; bytes: Buffer }
  /** exit: null when a signal ended the shell; total: output bytes seen (the tail may hold fewer). */
  | { type: "ended"; key: number; exit: number | null; signum: number; endedBy: EndedBy; total: number; tail: Buffer };

/** The fields of a run request's payload, NUL-separated; false when one holds a NUL (exec could not pass it). */
export function runPayloadFits(r: { command: string; cwd: string; env: Readonly<Record<string, string>> }): boolean {
  if (r.command.includes("\0") || r.cwd.includes("\0")) return false;
  for (const [k, v] of Object.entries(r.env)) if (k.includes("\0") || v.includes("\0")) return false;
  return true;
}

const whole = (n: number) => Math.max(0, Math.round(n));

export function encodeRequest(r: HostRequest): Buffer {
  switch (r.type) {
    case "run": {
      const fields = [r.command, r.cwd, ...Object.entries(r.env).map(([k, v]) => `${k}=${v}`)];
      const body = Buffer.from(fields.join("\0"));
      const header = `R ${r.key} ${whole(r.timeoutMs)} ${whole(r.outputLimit)} ${r.live ? 1 : 0} ${whole(r.leaseMs)} ${body.length}\n`;
      return Buffer.concat([Buffer.from(header), body]);
    }
    case "lease":
      return Buffer.from(`L ${r.key} ${whole(r.leaseMs)}\n`);
    case "terminate":
      return Buffer.from(`T ${r.key}\n`);
    case "signal":
      return Buffer.from(`S ${r.key} ${r.signum}\n`);
  }
}

/**
 * Turns the host's output into events. Chunks are kept in a list and a message's body is joined once
 * it is complete, so reading a large message (an output tail of many MB) costs time in proportion to
 * its size.
 */
export class HostEventReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** The header of a message whose body has not fully arrived, with the body's length. */
  private header: { fields: string[]; bodyLength: number } | null = null;

  push(chunk: Buffer): HostEvent[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const events: HostEvent[] = [];
    for (;;) {
      if (!this.header) {
        const line = this.takeLine();
        if (line === null) break;
        const fields = line.split(" ");
        this.header = { fields, bodyLength: fields[0] === "P" ? 0 : Number(fields[fields.length - 1]) || 0 };
      }
      if (this.buffered < this.header.bodyLength) break;
      const body = this.take(this.header.bodyLength);
      const event = decodeEvent(this.header.fields, body);
      this.header = null;
      if (event) events.push(event);
    }
    return events;
  }

  /** The next header line (without its newline), or null until one has fully arrived. */
  private takeLine(): string | null {
    let offset = 0;
    for (const c of this.chunks) {
      const nl = c.indexOf(10);
      if (nl >= 0) {
        const line = this.take(offset + nl + 1);
        return line.toString("latin1", 0, line.length - 1);
      }
      offset += c.length;
    }
    return null;
  }

  /** Removes and returns the first `n` buffered bytes (n <= buffered). */
  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0]!;
        const part = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, part);
        filled += part;
        if (part === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(part);
      }
    }
    this.buffered -= n;
    return out;
  }
}

function decodeEvent(f: string[], body: Buffer): HostEvent | null {
  const key = Number(f[1]);
  switch (f[0]) {
    case "P":
      return { type: "started", key, pid: Number(f[2]) };
    case "F": {
      const [step, errno] = body.toString("latin1").split(" ");
      return { type: "failed", key, step: step ?? "?", errno: Number(errno) };
    }
    case "O":
      return { type: "output", key, bytes: Buffer.from(body) };
    case "E": {
      const [exit, signum, endedBy, total] = f.slice(2).map(Number) as [number, number, number, number];
      return { type: "ended", key, exit: exit >= 0 ? exit : null, signum, endedBy: ENDED_BY[endedBy] ?? "itself", total, tail: Buffer.from(body) };
    }
    default:
      return null;
  }
}
