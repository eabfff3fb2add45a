/**
 * `queuectl db grant / revoke / roles`: makes an existing PostgreSQL role one kind of client
 * (sql/roles.ts says what each kind may do, and why). Run by the schema's owner: only it may grant on
 * its tables and write role_grants.
 */
import type pg from "pg";
import { inTransaction } from "../db/transaction.js";
import { InvalidInputError, NotFoundError, PermissionDeniedError } from "../errors.js";
import {
  createOrUpdateLogin,
  currentSchema,
  deleteRoleGrant,
  dropRole,
  grantStatements,
  listRoleGrants,
  ownsSchema,
  readRoleFacts,
  revokeStatements,
  ROLE_KINDS,
  upsertRoleGrant,
  type RoleKind,
} from "./sql/roles.js";

export { ROLE_KINDS, type RoleKind };

export function parseRoleKind(raw: string): RoleKind {
  if (!(ROLE_KINDS as readonly string[]).includes(raw)) throw new InvalidInputError(`--as must be one of ${ROLE_KINDS.join(", ")} (got '${raw}')`);
  return raw as RoleKind;
}

/**
 * Gives `role` exactly what `kind` needs, taking back whatever it had before; records it. One
 * transaction. With `loginPassword`, the role is created as a login role first when missing, or gets
 * that password when it exists (a stack's generated passwords applied on every start).
 */
export async function grantRole(pool: pg.Pool, p: { role: string; kind: RoleKind; loginPassword?: string }): Promise<void> {
  await inTransaction(pool, async (client) => {
    await refuseUnlessOwner(client);
    let facts = await readRoleFacts(client, p.role);
    if (p.loginPassword !== undefined && !facts.superuser && !facts.isCurrent) {
      await createOrUpdateLogin(client, { role: p.role, password: p.loginPassword, exists: facts.exists });
      facts = await readRoleFacts(client, p.role);
    }
    if (!facts.exists) throw new NotFoundError(`no PostgreSQL role '${p.role}' (create it first: CREATE ROLE "${p.role}" LOGIN PASSWORD '...', or use --create)`);
    if (facts.superuser) throw new InvalidInputError(`role '${p.role}' is a superuser: PostgreSQL checks no privileges for it, so no kind would limit it`);
    if (facts.isCurrent) throw new InvalidInputError(`role '${p.role}' is the one running this command (the schema's owner): it can already do everything`);
    await applyKind(client, p.role, p.kind);
    await upsertRoleGrant(client, p);
  });
}

/**
 * Takes back everything any kind gave `role` and forgets it; `drop` then drops the role itself.
 * Unknown to role_grants: NotFoundError.
 */
export async function revokeRole(pool: pg.Pool, p: { role: string; drop?: boolean }): Promise<RoleKind> {
  return inTransaction(pool, async (client) => {
    await refuseUnlessOwner(client);
    const kind = await deleteRoleGrant(client, p.role);
    if (kind === null) throw new NotFoundError(`role '${p.role}' was not granted a kind (queuectl db roles lists them)`);
    if ((await readRoleFacts(client, p.role)).exists) {
      const schema = await currentSchema(client);
      for (const sql of revokeStatements(schema, p.role)) await client.query(sql);
      if (p.drop) await dropRole(client, p.role);
    }
    return kind;
  });
}

/**
 * Grants every recorded role its kind again (after `db migrate`: a new table reaches the roles that
 * need it). A role dropped since is skipped. Returns the roles granted.
 */
export async function regrantRoles(pool: pg.Pool): Promise<string[]> {
  return inTransaction(pool, async (client) => {
    const done: string[] = [];
    for (const g of await listRoleGrants(client)) {
      if (!g.exists) continue;
      await applyKind(client, g.role, g.kind);
      done.push(g.role);
    }
    return done;
  });
}

export { listRoleGrants as listRoles };

async function refuseUnlessOwner(client: pg.PoolClient): Promise<void> {
  if (!(await ownsSchema(client))) throw new PermissionDeniedError("only the owner of the queue's tables (the role that runs `db migrate`) may grant or revoke");
}

async function applyKind(client: pg.PoolClient, role: string, kind: RoleKind): Promise<void> {
  const schema = await currentSchema(client);
  for (const sql of [...revokeStatements(schema, role), ...grantStatements(schema, role, kind)]) await client.query(sql);
}
