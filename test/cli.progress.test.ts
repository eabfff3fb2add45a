/**
 * Progress bars: bulk enqueue and `wait` draw one on a terminal (run under script(1) for a pty) and
 * erase it at the end; through a pipe they print nothing extra.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, queuectl } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";

const db = useTestDatabase();
const dir = mkdtempSync(join(tmpdir(), "queuectl-progress-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("progress bar", () => {
  it("bulk enqueue shows batches done on a TTY, and nothing through a pipe", async () => {
    const file = join(dir, "jobs.jsonl");
    writeFileSync(file, Array.from({ length: 12_000 }, (_, i) => JSON.stringify({ id: `pb-${i}`, command: "true", queue: "pb" })).join("\n"));
    const tty = await execa("script", ["-qec", `${process.execPath} ${CLI} enqueue --file ${file} > /dev/null`, "/dev/null"], { env: { ...process.env } });
    expect(tty.stdout).toContain("enqueueing [");
    expect(tty.stdout).toContain("12000/12000 jobs");
    expect(tty.stdout.endsWith("\r\u001b[K")).toBe(true);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM jobs WHERE queue = 'pb'")).rows[0].n).toBe(12_000);

    writeFileSync(file, Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: `pp-${i}`, command: "true" })).join("\n"));
    const piped = await queuectl(["enqueue", "--file", file]);
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe("");
  });
});
