/**
 * Token buckets in PostgreSQL (berth.rate_buckets), so every API process draws on the same ones.
 * A bucket holds up to `burst` tokens and refills at `perSecond`; a request takes one. Refill is
 * computed from the database's clock as the row is taken, under its row lock, so concurrent
 * requests of one key queue on that row and never take the same token twice.
 */
import { prepared, type Queryable } from './db.ts';

const REFILLED = 'least($2::float8, b.tokens + extract(epoch from clock_timestamp() - b.updated_at)::float8 * $3::float8)';

/** Takes one token from `bucket`; false when it is empty (nothing is taken then). */
export async function takeToken(db: Queryable, bucket: string, burst: number, perSecond: number): Promise<boolean> {
  const { rowCount } = await db.query(prepared(
    `insert into berth.rate_buckets as b (bucket, tokens, updated_at) values ($1, $2::float8 - 1, clock_timestamp())
     on conflict (bucket) do update set tokens = ${REFILLED} - 1, updated_at = clock_timestamp()
       where ${REFILLED} >= 1`,
    [bucket, burst, perSecond],
  ));
  return rowCount === 1;
}

/** Seconds until `bucket` holds a whole token again. */
export async function secondsUntilToken(db: Queryable, bucket: string, burst: number, perSecond: number): Promise<number> {
  const { rows } = await db.query<{ seconds: number }>(
    `select greatest(0, (1 - ${REFILLED}) / $3::float8)::float8 as seconds from berth.rate_buckets b where b.bucket = $1`,
    [bucket, burst, perSecond],
  );
  return rows[0]?.seconds ?? 0;
}

/** Deletes buckets untouched for `idleMs`: a full bucket and a missing one mean the same. */
export async function deleteIdleBuckets(db: Queryable, idleMs: number): Promise<number> {
  const { rowCount } = await db.query(
    `delete from berth.rate_buckets where updated_at < clock_timestamp() - $1::float8 * interval '1 millisecond'`, [idleMs],
  );
  return rowCount ?? 0;
}
