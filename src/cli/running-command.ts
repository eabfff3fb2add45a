/**
 * The command the command line asked for, as help names it ("queue pause"), set before each action
 * (program.ts), so a refusal by the database names the role and the command in one line. Light on
 * imports: program.ts loads it for every command, `--version` included.
 */
import { isPermissionDenied, permissionDeniedMessage } from "../db/errors.js";
import { PermissionDeniedError } from "../errors.js";

let running: string | null = null;

export function setRunningCommand(name: string): void {
  running = name;
}

/**
 * `err` as PermissionDeniedError when the database refused it for the role (SQLSTATE 42501):
 * "role 'alice' (enqueuer) may not run 'cancel': permission denied for table jobs". `role` is the
 * role as the server named it (with its kind); without it, the user DATABASE_URL logs in as.
 */
export function describeRefusal(err: unknown, role?: string): PermissionDeniedError | undefined {
  if (!isPermissionDenied(err)) return undefined;
  const command = running === null ? "run this command" : `run '${running}'`;
  return new PermissionDeniedError(`${role ?? urlRole()} may not ${command}: ${permissionDeniedMessage(err)}`);
}

/** The role DATABASE_URL logs in as, for a refusal where the server could not be asked. */
function urlRole(): string {
  try {
    const user = new URL(process.env.DATABASE_URL ?? "").username;
    return user ? `role '${decodeURIComponent(user)}'` : "this role";
  } catch {
    return "this role";
  }
}
