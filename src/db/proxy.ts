/**
 * Whether this pool's connections reach PostgreSQL directly or through a proxy (PgBouncer, RDS Proxy,
 * Supavisor, any TCP relay): the server sees a different client port than the socket this process
 * opened. Behind a pooler the server's max_connections is the pooler's to ration, so counting free
 * server connections says nothing about how many clients may connect.
 */
import type { Socket } from "node:net";
import type pg from "pg";

export async function reachesServerThroughProxy(pool: pg.Pool): Promise<boolean> {
  const client = await pool.connect();
  try {
    const res = await client.query<{ port: number | null }>("SELECT inet_client_port() AS port");
    // pg keeps its socket on the client's connection; not in its typings.
    const socket = (client as unknown as { connection?: { stream?: Partial<Socket> } }).connection?.stream;
    const local = socket?.localPort;
    // A Unix socket has no port on either side: nothing in between.
    if (res.rows[0]?.port == null || typeof local !== "number") return false;
    return res.rows[0].port !== local;
  } finally {
    client.release();
  }
}
