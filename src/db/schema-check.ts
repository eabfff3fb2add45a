/**
 * Whether the database's schema is the one its migrations build: `db status` and `db migrate` (and
 * `doctor`) report every table, column, index, constraint and enum label that is missing or
 * different, and any applied migration this queuectl does not know. Bookkeeping alone says "up to
 * date" for a database whose index was dropped by hand; then the claim scans the whole table, or a
 * dropped column fails every statement that names it.
 *
 * The expected schema is not written down a second time: the migrations themselves are applied in a
 * scratch schema inside a transaction that is rolled back, and the two catalogs are compared. So the
 * check needs CREATE on the database (the owner, who runs `db migrate`, has it).
 */
import { randomBytes } from "node:crypto";
import type pg from "pg";
import { readMigrations } from "./migrate.js";

/** One comparable fact of a schema, e.g. "column jobs.state job_state not null" -> its definition. */
type Catalog = Map<string, string>;

async function readCatalog(client: pg.PoolClient, schema: string): Promise<Catalog> {
  const strip = (s: string) => s.split(`${schema}.`).join("").split('"').join("");
  const out: Catalog = new Map();
  const tables = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
    [schema],
  );
  for (const t of tables.rows) if (t.name !== "_prisma_migrations") out.set(`table ${t.name}`, "present");
  const columns = await client.query<{ tbl: string; col: string; type: string; notnull: boolean; def: string | null }>(
    `SELECT c.relname AS tbl, a.attname AS col, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
            pg_get_expr(d.adbin, d.adrelid) AS def
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE n.nspname = $1 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND c.relname <> '_prisma_migrations'`,
    [schema],
  );
  for (const c of columns.rows) {
    // A serial's default names its sequence, which carries the schema; the rest of the text is compared.
    out.set(`column ${c.tbl}.${c.col}`, strip(`${c.type}${c.notnull ? " not null" : ""}${c.def ? ` default ${c.def}` : ""}`));
  }
  const indexes = await client.query<{ name: string; def: string }>(
    `SELECT i.relname AS name, pg_get_indexdef(i.oid) AS def
     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = $1 AND t.relname <> '_prisma_migrations'`,
    [schema],
  );
  for (const i of indexes.rows) out.set(`index ${i.name}`, strip(i.def));
  const constraints = await client.query<{ tbl: string; name: string; def: string }>(
    `SELECT t.relname AS tbl, k.conname AS name, pg_get_constraintdef(k.oid) AS def
     FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = $1 AND t.relname <> '_prisma_migrations'`,
    [schema],
  );
  for (const k of constraints.rows) out.set(`constraint ${k.tbl}.${k.name}`, strip(k.def));
  const enums = await client.query<{ name: string; labels: string }>(
    `SELECT t.typname AS name, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) AS labels
     FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname = $1 GROUP BY t.typname`,
    [schema],
  );
  for (const e of enums.rows) out.set(`type ${e.name}`, e.labels);
  return out;
}

/** The catalog the migrations build, read from a scratch schema in a transaction that is rolled back. */
async function expectedCatalog(client: pg.PoolClient): Promise<Catalog> {
  const scratch = `queuectl_expected_${randomBytes(4).toString("hex")}`;
  await client.query("BEGIN");
  try {
    await client.query(`CREATE SCHEMA ${scratch}`);
    await client.query(`SET LOCAL search_path TO ${scratch}`);
    for (const m of readMigrations()) await client.query(m.sql);
    return await readCatalog(client, scratch);
  } finally {
    await client.query("ROLLBACK");
  }
}

export interface SchemaDrift {
  /** One line per difference, e.g. "index jobs_claim_idx is missing". */
  problems: string[];
}

/**
 * Compares the database's schema (its current schema, usually public) with what the migrations
 * build, and its applied migrations with this build's. Objects the database has beyond the
 * migrations (an index an operator added) are not problems. Call on a migrated database.
 */
export async function checkSchema(pool: pg.Pool): Promise<SchemaDrift> {
  const client = await pool.connect();
  try {
    const problems: string[] = [];
    const applied = await client.query<{ name: string }>(
      `SELECT migration_name AS name FROM "_prisma_migrations" WHERE rolled_back_at IS NULL AND finished_at IS NOT NULL ORDER BY migration_name`,
    );
    const known = new Set(readMigrations().map((m) => m.name));
    for (const r of applied.rows) if (!known.has(r.name)) problems.push(`migration ${r.name} is applied but this queuectl does not know it (a newer version applied it)`);
    const schema = (await client.query<{ s: string }>("SELECT current_schema() AS s")).rows[0]!.s;
    const actual = await readCatalog(client, schema);
    const expected = await expectedCatalog(client);
    for (const [key, want] of expected) {
      const have = actual.get(key);
      if (have === undefined) problems.push(`${key} is missing`);
      else if (have !== want) problems.push(`${key} differs: expected ${want}, found ${have}`);
    }
    return { problems };
  } finally {
    client.release();
  }
}
