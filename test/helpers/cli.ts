/**
 * Runs the built CLI (dist/cli/main.js: what users run) as a child process against the file's test
 * database, and returns what a user would see.
 */
import { execa } from "execa";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function queuectl(args: string[], options: { input?: string; env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {}): Promise<CliResult> {
  const res = await execa(process.execPath, [CLI, ...args], {
    reject: false,
    cwd: options.cwd,
    input: options.input,
    env: { ...options.env },
    timeout: options.timeoutMs ?? 30_000,
  });
  return { code: res.exitCode ?? -1, stdout: String(res.stdout), stderr: String(res.stderr) };
}

/** Runs the CLI and parses its --json output; fails the test with stderr when it exits non-zero. */
export async function queuectlJson<T = unknown>(args: string[], options: { input?: string } = {}): Promise<T> {
  const res = await queuectl([...args, "--json"], options);
  if (res.code !== 0) throw new Error(`queuectl ${args.join(" ")} exited ${res.code}: ${res.stderr}`);
  return JSON.parse(res.stdout) as T;
}
