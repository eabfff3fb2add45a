/**
 * Secrets stored with a job are shown masked wherever queuectl prints the job — show, list, --json,
 * dlq list, schedule list, the dashboard's API — while the job runs with the real values.
 */
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createDashboardApp } from "../src/dashboard/server.js";
import { createSecurity } from "../src/dashboard/auth.js";
import { createPrismaClient } from "../src/db/prisma.js";
import { maskEnv, maskSecrets } from "../src/queue/secrets.js";
import { queuectl } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { jobState, startWorkerProcess } from "./helpers/workers.js";

const db = useTestDatabase();

describe("maskSecrets", () => {
  it("masks URL passwords, Authorization-style credentials and secret-looking assignments and options", () => {
    expect(maskSecrets("pg_dump postgres://bob:hunter2@db.example:5432/shop > x")).toBe("pg_dump postgres://bob:***@db.example:5432/shop > x");
    expect(maskSecrets("curl -H 'Authorization: Basic dXNlcjpwYXNz' https://api")).toBe("curl -H 'Authorization: Basic ***' https://api");
    expect(maskSecrets("curl -H \"Authorization: Bearer eyJhbGciOi.x.y\" https://api")).toBe('curl -H "Authorization: Bearer ***" https://api');
    expect(maskSecrets("PGPASSWORD=hunter2 psql -c 'select 1'")).toBe("PGPASSWORD=*** psql -c 'select 1'");
    expect(maskSecrets("deploy --api-key=abc123 --token xyz789 --verbose")).toBe("deploy --api-key=*** --token *** --verbose");
    // What is not a secret stays as it is.
    expect(maskSecrets("echo hello; ls -la /tmp; https://example.com/path?q=1")).toBe("echo hello; ls -la /tmp; https://example.com/path?q=1");
    expect(maskEnv({ DB_URL: "postgres://bob:hunter2@db/x", API_TOKEN: "t", MODE: "on", AUTH: "Basic dXNlcjpwYXNz" })).toEqual({
      API_TOKEN: "***",
      AUTH: "Basic ***",
      DB_URL: "postgres://bob:***@db/x",
      MODE: "on",
    });
  });
});

describe("secrets in what queuectl shows", () => {
  it("show, list, --json, dlq list, schedule list and the dashboard's API mask them; the job runs with the real values", async () => {
    const out = join(tmpdir(), `queuectl-secrets-${process.pid}`);
    rmSync(out, { force: true });
    // The URL in the command is the operator's (masked); what a command prints is its own output, shown as written.
    const command = `echo "$DB_URL $AUTH" > ${out}; true postgres://bob:hunter2@db/x; exit 3`;
    const job = JSON.stringify({ id: "sec", command, max_retries: 0, env: { DB_URL: "postgres://bob:hunter2@db.example/shop", AUTH: "Basic dXNlcjpwYXNz" } });
    expect((await queuectl(["enqueue", job])).code).toBe(0);
    expect((await queuectl(["schedule", "add", "sec-nightly", "0 3 * * *", JSON.stringify({ command: "PGPASSWORD=hunter2 psql", env: { DB_URL: "postgres://bob:hunter2@db/x" } })])).code).toBe(0);
    const worker = startWorkerProcess(["--exit-when-idle"]);
    expect(await worker.exited).toBe(0);
    expect(await jobState(db.pool, "sec")).toMatchObject({ state: "dead" });
    // The job ran with the stored values.
    expect(readFileSync(out, "utf8")).toBe("postgres://bob:hunter2@db.example/shop Basic dXNlcjpwYXNz\n");
    rmSync(out, { force: true });

    const shown = [
      (await queuectl(["show", "sec"])).stdout,
      (await queuectl(["show", "sec", "--json"])).stdout,
      (await queuectl(["list"])).stdout,
      (await queuectl(["list", "--json"])).stdout,
      (await queuectl(["dlq", "list"])).stdout,
      (await queuectl(["dlq", "list", "--json"])).stdout,
      (await queuectl(["schedule", "list", "--json"])).stdout,
      (await queuectl(["schedule", "list"])).stdout,
    ];
    const prisma = createPrismaClient(db.pool);
    const app = createDashboardApp({ ctx: { pool: db.pool, prisma }, security: createSecurity({ host: "127.0.0.1", token: undefined }) });
    for (const path of ["/api/jobs/sec", "/api/jobs", "/api/jobs?q=sec", "/api/dlq", "/api/schedules"]) {
      shown.push(await (await app.request(`http://127.0.0.1:3000${path}`)).text());
    }
    await prisma.$disconnect();
    for (const text of shown) {
      expect(text).not.toContain("hunter2");
      expect(text).not.toContain("dXNlcjpwYXNz");
    }
    expect(shown[1]).toContain("postgres://bob:***@db.example/shop");
  });
});
