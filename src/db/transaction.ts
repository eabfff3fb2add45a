/**
 * One transaction on one pooled connection: BEGIN, the work, COMMIT; ROLLBACK when the work throws.
 * A connection whose ROLLBACK failed too (the server went away mid-transaction) is destroyed rather
 * than handed back to the pool in an unknown state.
 */
import type pg from "pg";

export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>, begin = "BEGIN"): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query(begin);
    try {
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {
        broken = true;
      });
      throw err;
    }
  } finally {
    client.release(broken);
  }
}
