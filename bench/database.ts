/**
 * The benchmark's own PostgreSQL database: created empty for one run (Berth migrates it at start)
 * and dropped at the end, whatever happened.
 *
 * BENCH_DATABASE_URL: a superuser connection to an existing database (default: postgres on
 * 127.0.0.1:5432), used only to create and drop the bench database and to read server facts.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

export function adminUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env['BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

export async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>, url = adminUrl()): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = `berth_bench_${randomBytes(5).toString('hex')}`;
  await withAdmin((c) => c.query(`create database ${name}`));
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      await withAdmin((c) => c.query(`drop database if exists ${name} with (force)`));
    },
  };
}

export async function postgresVersion(): Promise<string> {
  return withAdmin(async (c) => {
    const { rows } = await c.query<{ v: string }>("select current_setting('server_version') as v");
    return `PostgreSQL ${rows[0]!.v}`;
  });
}

/** Rows of one query against the bench database (counts and checks between phases). */
export async function queryBench<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  return withAdmin(async (c) => (await c.query<T>(sql, params)).rows, url);
}
