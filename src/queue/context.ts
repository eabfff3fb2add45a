/**
 * What the queue's operations need from the application context (db/context.ts): the pg pool for the
 * statements of sql/, and Prisma Client for the reads that go through it.
 */
import type { AppContext } from "../db/context.js";

export type QueueContext = Pick<AppContext, "pool" | "prisma">;
