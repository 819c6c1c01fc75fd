/**
 * The PostgreSQL pool and the one way Berth runs a transaction. Nothing else.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that can run a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

export function createPool(connectionString: string, options: { max?: number; applicationName?: string } = {}): pg.Pool {
  return new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'berth',
    // A query must not hang a request forever while the database is unreachable.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
}

const statementNames = new Map<string, string>();

/**
 * A named statement: each connection has PostgreSQL parse and plan it once, not on every call.
 * Parsing and planning were two thirds of a submission's database time (bench/RESULTS.md), so the
 * hot statements use this. Only for a fixed text with explicit result columns: a prepared
 * `returning *` fails with "cached plan must not change result type" once a migration adds a
 * column while the process runs. The name is derived from the text, so two texts never share one.
 */
export function prepared(text: string, values: unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `berth_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return { name, text, values };
}

export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (error) {
    // The rollback's own failure must not hide the error that caused it.
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Runs `fn` inside a savepoint of the caller's transaction: when it throws, what it wrote is undone
 * and the transaction goes on; the error is handed to `onError`, whose result is returned.
 */
export async function withSavepoint<T>(client: pg.PoolClient, fn: () => Promise<T>, onError: (error: unknown) => T): Promise<T> {
  await client.query('savepoint berth_savepoint');
  try {
    const result = await fn();
    await client.query('release savepoint berth_savepoint');
    return result;
  } catch (error) {
    if (isDatabaseUnavailable(error)) throw error;
    await client.query('rollback to savepoint berth_savepoint');
    return onError(error);
  }
}

// Conditions meaning "the database cannot be reached right now", as opposed to "the query is
// wrong": connection errors, server shutdown (57P0x), connection exceptions (08xxx), and the
// driver's own messages for a connection lost or never made (they carry no code).
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EPIPE', '57P01', '57P02', '57P03']);
const UNAVAILABLE_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|is not queryable|Connection ended/i;

export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (typeof e?.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  return typeof e?.message === 'string' && UNAVAILABLE_MESSAGES.test(e.message);
}

/** A foreign key `constraint` refused a write: what it refers to is gone. */
export function isForeignKeyViolation(error: unknown, constraint: string): boolean {
  const e = error as { code?: unknown; constraint?: unknown } | null;
  return e?.code === '23503' && e.constraint === constraint;
}

/**
 * Runs `fn` again while the database is unavailable, up to `limitMs`: for writes that must not be
 * lost to a database restart (an attempt's result). Other errors are thrown at once.
 */
export async function retryWhileUnavailable<T>(fn: () => Promise<T>, limitMs: number, onRetry: (error: unknown) => void): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      return await fn();
    } catch (error) {
      if (!isDatabaseUnavailable(error) || Date.now() + delay > deadline) throw error;
      onRetry(error);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
