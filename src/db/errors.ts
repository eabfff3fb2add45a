/**
 * What a database error means for the caller, by its SQLSTATE (or Node's error code): the same
 * answer for the worker (retry, or give up) and the CLI (one clear line).
 */

interface DbErrorLike {
  code?: unknown;
  message?: unknown;
}

function codeOf(err: unknown): string {
  const code = (err as DbErrorLike | null)?.code;
  return typeof code === "string" ? code : "";
}

function messageOf(err: unknown): string {
  const message = (err as DbErrorLike | null)?.message;
  return typeof message === "string" ? message : String(err);
}

/** Node's codes for a connection that could not be made or was lost. */
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);
/**
 * SQLSTATEs that mean "this server cannot serve you now": connection failures (class 08), the server
 * shutting down or restarting (57P01-57P03), too many connections (53300), and a server that only
 * reads (25006: a standby, or a primary demoted in a failover). A write refused by a read-only server
 * is a lost connection to the primary, never a failure of the job.
 */
const UNAVAILABLE_STATES = new Set(["57P01", "57P02", "57P03", "53300", "25006"]);
/** pg's messages for a connection that died or never came up (they carry no code). */
const CONNECTION_MESSAGE = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended unexpectedly|connect ECONNREFUSED/i;

/** The database could not be reached, or stopped serving: an outage, worth waiting out. */
export function isConnectionError(err: unknown): boolean {
  const code = codeOf(err);
  return SOCKET_CODES.has(code) || code.startsWith("08") || UNAVAILABLE_STATES.has(code) || CONNECTION_MESSAGE.test(messageOf(err));
}

/**
 * The statement failed for a reason that passes by itself: a serialization failure or deadlock (the
 * other transaction goes on), a lock or statement timeout, or the server short of resources.
 */
export function isTransientError(err: unknown): boolean {
  const code = codeOf(err);
  return code === "40001" || code === "40P01" || code === "55P03" || code === "57014" || (code.startsWith("53") && code !== "53300");
}

/** Worth trying again: an outage or a transient failure. Anything else fails the same way again. */
export function isRetryableError(err: unknown): boolean {
  return isConnectionError(err) || isTransientError(err);
}

/**
 * A table, column, function or type the statement names is missing: the schema is not what this build
 * expects. PostgreSQL's codes, and Prisma Client's for the same (P2021 table, P2022 column).
 */
export function isSchemaError(err: unknown): boolean {
  return ["42P01", "42703", "42883", "42704", "P2021", "P2022"].includes(codeOf(err));
}

/**
 * An error's message as one line, for a log line or a CLI error. Prisma Client's messages open with
 * "Invalid `prisma.x()` invocation:" and say what went wrong on their last line: that line is taken.
 */
export function firstLine(err: unknown): string {
  const lines = messageOf(err).split("\n").map((l) => l.trim()).filter((l) => l !== "");
  if (lines.length > 1 && /^Invalid `.*` invocation/.test(lines[0]!)) return lines[lines.length - 1]!;
  return lines[0] ?? "";
}

/** The database error Prisma Client wraps (its driver adapter's cause), when there is one. */
function adapterCause(err: unknown): DbErrorLike | undefined {
  const cause = (err as { meta?: { driverAdapterError?: { cause?: DbErrorLike } } } | null)?.meta?.driverAdapterError?.cause;
  return cause && typeof cause === "object" ? cause : undefined;
}

/**
 * The server refused the statement for the connection's role (SQLSTATE 42501, insufficient_privilege),
 * whether pg raised it or Prisma Client wrapped it (P2039 with the driver adapter's cause).
 */
export function isPermissionDenied(err: unknown): boolean {
  return codeOf(err) === "42501" || codeOf(adapterCause(err)) === "42501";
}

/** The server's own words for a refusal ("permission denied for table jobs"). */
export function permissionDeniedMessage(err: unknown): string {
  const cause = adapterCause(err);
  return cause ? messageOf(cause) : firstLine(err);
}
