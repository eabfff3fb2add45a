import type pg from "pg";

/** What a statement runs on: the pool (one statement, autocommit) or a client inside a transaction. */
export type Queryable = pg.Pool | pg.PoolClient;
