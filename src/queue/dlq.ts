/**
 * The Dead Letter Queue as `dlq list`, `dlq retry` and the dashboard use it: listing the entries not
 * retried, one job's open entry, and sending dead jobs back to pending (the statement is sql/dlq.ts
 * retryDeadJobs).
 */
import { inTransaction } from "../db/transaction.js";
import { InvalidStateError, NotFoundError } from "../errors.js";
import type { QueueContext } from "./context.js";
import { quoteJobId } from "./job-spec.js";
import { refuseBlocked, uniqueKeyConflict } from "./operator.js";
import { reopenDependencies } from "./sql/dependencies.js";
import { readJobStates } from "./sql/job-reads.js";
import { type DeadLetterRow, readEditableFields, readOpenDeadLetters, retryDeadJobs, type DeadJobEdit } from "./sql/dlq.js";
import { recordAudit, type Actor } from "./audit.js";
import { maskSecrets } from "./secrets.js";

export type { DeadLetterRow };

export interface DeadLetterPage {
  entries: DeadLetterRow[];
  /** Entries waiting in the DLQ in all (the page may hold fewer). */
  total: number;
}

/** DLQ entries not yet retried, newest first, with their number (through pg: `dlq list` must start fast). */
export async function listDeadLetters(ctx: Pick<QueueContext, "pool">, p: { limit?: number; offset?: number } = {}): Promise<DeadLetterPage> {
  const page = await readOpenDeadLetters(ctx.pool, { limit: p.limit ?? null, offset: p.offset ?? 0 });
  return {
    entries: page.entries.map((d) => ({ ...d, command: maskSecrets(d.command), last_error: maskSecrets(d.last_error) })),
    total: page.total,
  };
}

/** `ids`: these dead jobs; `all`: every dead job. */
export type RetryDeadParams = ({ ids: readonly string[]; edit?: DeadJobEdit } | { all: true }) & { actor?: Actor };

/**
 * Sends dead jobs back to pending with attempts reset, closing their DLQ entries (sql/dlq.ts
 * retryDeadJobs); in the same transaction each waits again for its dependencies that have not
 * completed, and one whose dependency ended cancelled is refused (operator.ts refuseBlocked). Named
 * ids are checked first: an unknown id is NotFoundError, a job that is not dead is InvalidStateError,
 * and then nothing is retried. Returns the ids retried.
 */
export async function retryDead(ctx: Pick<QueueContext, "pool">, p: RetryDeadParams): Promise<string[]> {
  const ids = "all" in p ? null : [...new Set(p.ids)];
  if (ids) {
    const found = await readJobStates(ctx.pool, ids);
    const stateOf = new Map(found.map((j) => [j.id, j.state]));
    for (const id of ids) {
      const state = stateOf.get(id);
      if (state === undefined) throw new NotFoundError(`no job ${quoteJobId(id)}`);
      if (state !== "dead") throw new InvalidStateError(`job '${id}' is not in the DLQ (it is ${state})`);
    }
  }
  try {
    const edit = "all" in p ? undefined : p.edit;
    return await inTransaction(ctx.pool, async (client) => {
      const before = edit ? await readEditableFields(client, ids ?? []) : undefined;
      const retried = await retryDeadJobs(client, ids, edit ?? {});
      const missed = (ids ?? []).filter((id) => !retried.includes(id));
      if (missed.length > 0) {
        // Someone else retried (or changed) it between the check and the statement.
        throw new InvalidStateError(`job '${missed[0]}' left the DLQ while retrying it; nothing was changed`);
      }
      refuseBlocked(await reopenDependencies(client, retried), "dlq retry");
      if (!edit || !before) {
        await recordAudit(client, { actor: p.actor, action: "dlq retry", target: retried, before: { state: "dead" }, after: { state: "pending" } });
      } else {
        // An edit's before differs per job: a row each, with the fields the edit may change (after: the
        // same fields with the edit applied, as retryDeadJobs applies it).
        for (const id of retried) {
          const was = before.get(id);
          const now = was && {
            command: edit.command ?? was.command,
            timeout_ms: edit.timeoutMs !== undefined ? edit.timeoutMs : was.timeout_ms,
            max_retries: edit.maxRetries ?? was.max_retries,
          };
          await recordAudit(client, { actor: p.actor, action: "dlq retry --edit", target: id, before: { state: "dead", ...was }, after: { state: "pending", ...now } });
        }
      }
      return retried;
    });
  } catch (err) {
    throw uniqueKeyConflict(err) ?? err;
  }
}

/** The dead-letter entry of a job that is in the DLQ now (not retried), for the job page. */
export async function openDeadLetter(
  ctx: Pick<QueueContext, "prisma">,
  p: { jobId: string },
): Promise<{ reason: string; last_error: string | null; failed_at: Date } | null> {
  const d = await ctx.prisma.deadLetter.findFirst({
    where: { jobId: p.jobId, retriedAt: null },
    orderBy: { failedAt: "desc" },
  });
  return d ? { reason: d.reason, last_error: maskSecrets(d.lastError), failed_at: d.failedAt } : null;
}
