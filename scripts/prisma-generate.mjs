// Runs `prisma generate` on machines that cannot download Prisma's native schema engine (a separate
// binary; queuectl does not need it: src/db/migrate.ts applies the migrations itself, with Prisma's
// own bookkeeping, so `prisma migrate deploy` and queuectl accept each other's work).
// `generate` never runs that engine, but the CLI insists on downloading it first. Pointing
// PRISMA_SCHEMA_ENGINE_BINARY at an existing file skips the download. We do that only for this run and
// only when no real engine is installed, and the stand-in exits 1 so that anything that did try to run
// it would fail loudly instead of reporting success.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, mkdtempSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const enginesDir = join("node_modules", "@prisma", "engines");
const hasEngine =
  existsSync(enginesDir) && readdirSync(enginesDir).some((f) => f.startsWith("schema-engine"));
const env = { ...process.env };
if (!hasEngine && !env.PRISMA_SCHEMA_ENGINE_BINARY) {
  const dir = mkdtempSync(join(tmpdir(), "queuectl-prisma-"));
  const stub = join(dir, "schema-engine-unavailable");
  writeFileSync(stub, "#!/bin/sh\necho 'schema engine not available on this machine' >&2\nexit 1\n");
  chmodSync(stub, 0o755);
  env.PRISMA_SCHEMA_ENGINE_BINARY = stub;
}
env.PRISMA_HIDE_UPDATE_MESSAGE = "1";
const result = spawnSync("npx", ["--no-install", "prisma", "generate"], { stdio: "inherit", env });
process.exit(result.status ?? 1);
