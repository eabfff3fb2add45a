import { openContext, type AppContext, type OpenContextOptions } from "../db/context.js";
import { isPermissionDenied } from "../db/errors.js";
import { readSessionRole } from "../queue/sql/roles.js";
import { describeRefusal } from "./running-command.js";

/**
 * Opens the database for one command, runs it, and always closes the pool so the process can exit.
 * A statement the role may not run (SQLSTATE 42501) becomes PermissionDeniedError naming the role,
 * its kind (read while the pool is still open) and the command.
 */
export async function withContext<T>(fn: (ctx: AppContext) => Promise<T>, options: OpenContextOptions = {}): Promise<T> {
  const ctx = await openContext({ applicationName: "queuectl-cli", poolMax: 4, ...options });
  try {
    return await fn(ctx);
  } catch (err) {
    if (!isPermissionDenied(err)) throw err;
    const who = await readSessionRole(ctx.pool).catch(() => null);
    throw describeRefusal(err, who ? `role '${who.role}'${who.kind ? ` (${who.kind})` : ""}` : undefined) ?? err;
  } finally {
    await ctx.close();
  }
}
