import { openContext, type AppContext, type OpenContextOptions } from "../db/context.js";

/** Opens the database for one command, runs it, and always closes the pool so the process can exit. */
export async function withContext<T>(fn: (ctx: AppContext) => Promise<T>, options: OpenContextOptions = {}): Promise<T> {
  const ctx = await openContext({ applicationName: "queuectl-cli", poolMax: 4, ...options });
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}
