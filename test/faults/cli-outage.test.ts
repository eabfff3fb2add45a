/**
 * A database that accepts connections but never answers (a hung server, a frozen host, a half-dead
 * proxy): CLI commands fail with exit code 1 and one clear line within 5 s instead of hanging.
 * (A server that refuses connections, and one restarted under load, are in test/faults/pg-restart.)
 */
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queuectl } from "../helpers/cli.js";

let server: Server;
const sockets = new Set<Socket>();
let url = "";

beforeAll(async () => {
  server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const addr = server.address();
  url = `postgresql://postgres@127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/queuectl`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
});

describe("a database that never answers", () => {
  it("every kind of command fails with exit 1 and one line within 5 s", async () => {
    const commands = [["status"], ["list"], ["enqueue", "--command", "true"], ["config", "list"], ["show", "x"], ["dlq", "retry", "x"], ["worker", "stop"]];
    const one = async (args: string[]) => {
      const t0 = Date.now();
      const res = await queuectl(args, { env: { DATABASE_URL: url }, timeoutMs: 20_000 });
      return { args, res, ms: Date.now() - t0 };
    };
    // Two at a time: each measures its own wait, not a queue of node start-ups on a 2-core machine.
    const results = [];
    for (let i = 0; i < commands.length; i += 2) results.push(...(await Promise.all(commands.slice(i, i + 2).map(one))));
    for (const { args, res, ms } of results) {
      const what = `${args.join(" ")}: ${ms} ms, ${res.stderr}`;
      expect(res.code, what).toBe(1);
      expect(res.stderr.trim().split("\n"), what).toHaveLength(1);
      expect(res.stderr, what).toMatch(/^queuectl: database unavailable: /);
      expect(ms, what).toBeLessThan(5000);
    }
  });
});
