/**
 * Dashboard logins as server-side sessions. The cookie holds 32 random bytes; the database keeps only
 * their SHA-256, with the digest of the token the login used and an expiry. Logging out deletes the
 * row, which ends that session for every dashboard process at once; changing the token ends every
 * older session (their token digest no longer matches). A cookie that was a fixed function of the
 * token (as before) could not be revoked at all.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Queryable } from "../db/queryable.js";
import { dashboardSessionValid, deleteDashboardSession, insertDashboardSession } from "../queue/sql/dashboard-sessions.js";

/** How long a login lasts, in seconds (7 days). */
export const SESSION_MAX_AGE_S = 7 * 24 * 3600;

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** A cookie value that is not one of ours is refused before the database is asked. */
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export class SessionStore {
  private readonly tokenDigest: string;

  constructor(
    private readonly db: Queryable,
    token: string,
  ) {
    this.tokenDigest = sha256(`queuectl-dashboard-token:${token}`);
  }

  /** Opens a session; returns the secret for the cookie. */
  async open(client: string | null): Promise<string> {
    const secret = randomBytes(32).toString("base64url");
    await insertDashboardSession(this.db, { id: sha256(secret), tokenDigest: this.tokenDigest, client, maxAgeS: SESSION_MAX_AGE_S });
    return secret;
  }

  async valid(secret: string): Promise<boolean> {
    if (!SECRET_PATTERN.test(secret)) return false;
    return dashboardSessionValid(this.db, { id: sha256(secret), tokenDigest: this.tokenDigest });
  }

  /** A name for the session in the audit trail: the start of its stored id, which does not give the cookie away. */
  reference(secret: string): string {
    return sha256(secret).slice(0, 12);
  }

  async close(secret: string): Promise<void> {
    if (SECRET_PATTERN.test(secret)) await deleteDashboardSession(this.db, sha256(secret));
  }
}
