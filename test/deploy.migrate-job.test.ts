/**
 * The migrate Job's script and the init containers' wait (deploy/kubernetes/base), run as written
 * in the manifests against a real, unmigrated database with the real CLI: the Job migrates and makes
 * the worker's and the dashboard's roles from the user names and passwords of their URLs; workers and
 * the dashboard wait for it, then connect as those roles; the worker's role runs KEDA's query.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { execa } from "execa";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, queuectl } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { baseObjects, find, kedaQuery, type K8sObject } from "./helpers/kubernetes.js";

const db = useTestDatabase({ migrate: false });
const tag = `${process.pid}_${randomBytes(3).toString("hex")}`;
const ROLES = { worker: `qtest_${tag}_k8s_worker`, dashboard: `qtest_${tag}_k8s_dash` };
// Characters a URL must percent-encode, so the script's decoding is exercised too.
const PASSWORDS = { worker: `w:${randomBytes(6).toString("hex")}@/`, dashboard: `d ${randomBytes(6).toString("hex")}%` };
const bin = mkdtempSync(join(tmpdir(), "queuectl-k8s-bin-"));
let objects: K8sObject[];

function urlAs(role: string, password: string): string {
  const u = new URL(db.url);
  u.username = encodeURIComponent(role);
  u.password = encodeURIComponent(password);
  return u.toString();
}

/** What the image has on its PATH: `queuectl` (the built CLI) and node. */
const PATH = [bin, dirname(process.execPath), process.env.PATH ?? ""].join(delimiter);

type Container = { command: string[]; env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef: { key: string } } }> };

/** Runs a container's command as the pod would: its env, with the Secret's keys from `secret`. */
function runContainer(c: Container, secret: Record<string, string>, timeoutMs = 60_000) {
  const env: Record<string, string> = { PATH, HOME: process.env.HOME ?? "/" };
  for (const e of c.env ?? []) env[e.name] = e.value ?? secret[e.valueFrom!.secretKeyRef.key]!;
  return execa(c.command[0]!, c.command.slice(1), { env, extendEnv: false, reject: false, timeout: timeoutMs });
}

const migrateContainer = () => find(objects, "Job", "queuectl-migrate").spec.template.spec.containers[0] as Container;
const waitContainer = (deployment: string) =>
  find(objects, "Deployment", deployment).spec.template.spec.initContainers.find((c: { name: string }) => c.name === "wait-for-schema") as Container;

beforeAll(async () => {
  objects = await baseObjects();
  symlinkSync(CLI, join(bin, "queuectl"));
});

afterAll(async () => {
  rmSync(bin, { recursive: true, force: true });
  for (const role of Object.values(ROLES)) {
    await db.pool.query(`DROP OWNED BY ${pg.escapeIdentifier(role)}`).catch(() => {});
    await db.pool.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`).catch(() => {});
  }
});

describe("the migrate Job and the wait for it", () => {
  const secret = () => ({
    DATABASE_URL: db.url,
    WORKER_DATABASE_URL: urlAs(ROLES.worker, PASSWORDS.worker),
    DASHBOARD_DATABASE_URL: urlAs(ROLES.dashboard, PASSWORDS.dashboard),
  });

  it("before the migration, a worker's init container waits and says why", async () => {
    // How long one check takes here, so the wait is observed over several of them.
    const t0 = performance.now();
    const once = await queuectl(["config", "get", "lease_ms"], { env: { DATABASE_URL: db.url } });
    const checkMs = performance.now() - t0;
    expect(once.code).toBe(1);
    const res = await runContainer(waitContainer("queuectl-worker"), { WORKER_DATABASE_URL: db.url }, Math.round(3 * checkMs) + 1000);
    expect(res.timedOut).toBe(true);
    expect(res.stderr).toContain(once.stderr.trim());
    expect(res.stderr).toMatch(/db migrate/);
  });

  it("migrates, then makes the worker's and the dashboard's roles with their URLs' passwords", async () => {
    const res = await runContainer(migrateContainer(), secret());
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^applied /m);
    expect(res.stdout).toContain(`role '${ROLES.worker}' is now a worker`);
    expect(res.stdout).toContain(`role '${ROLES.dashboard}' is now an admin`);
    const roles = await queuectl(["db", "roles", "--json"], { env: { DATABASE_URL: db.url } });
    expect(JSON.parse(roles.stdout).map((r: { role: string; kind: string }) => [r.role, r.kind]).sort()).toEqual(
      [[ROLES.dashboard, "admin"], [ROLES.worker, "worker"]].sort(),
    );
  });

  it("then the init containers pass at once, as the roles the pods connect as", async () => {
    for (const deployment of ["queuectl-worker", "queuectl-dashboard"]) {
      const res = await runContainer(waitContainer(deployment), secret(), 30_000);
      expect(res.exitCode, `${deployment}: ${res.stderr}`).toBe(0);
    }
  });

  it("the worker's role runs KEDA's query (the TriggerAuthentication uses its URL)", async () => {
    const client = new pg.Client({ connectionString: secret().WORKER_DATABASE_URL });
    await client.connect();
    try {
      const res = await client.query(kedaQuery(objects));
      expect(Object.values(res.rows[0] as Record<string, unknown>)).toEqual([0]);
    } finally {
      await client.end();
    }
  });

  it("runs again without changing anything, and leaves a URL that names the owner alone", async () => {
    const again = await runContainer(migrateContainer(), secret());
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toContain("the database schema is up to date");
    const owner = await runContainer(migrateContainer(), { ...secret(), WORKER_DATABASE_URL: db.url });
    expect(owner.exitCode, owner.stderr).toBe(0);
    expect(owner.stdout).toContain("the workers connect as the schema's owner");
    // The worker's role still logs in with its password.
    const res = await runContainer(waitContainer("queuectl-worker"), secret(), 30_000);
    expect(res.exitCode, res.stderr).toBe(0);
  });
});
