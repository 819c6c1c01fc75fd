/**
 * One PostgreSQL for the whole run; each test file gets its own database cloned from a template
 * that test/setup.ts built (migrations + pg-boss schema), so files never see each other's rows.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** BERTH_TEST_TEMPLATE lets two checkouts run their suites against one PostgreSQL at once. */
export const TEMPLATE_DATABASE = process.env['BERTH_TEST_TEMPLATE'] ?? 'berth_test_template';

export function adminUrl(): string {
  return process.env['BERTH_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

export function databaseUrl(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

export async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `berth_test_${randomBytes(6).toString('hex')}`;
  await withAdmin((c) => c.query(`create database ${name} template ${TEMPLATE_DATABASE}`));
  // A clone would share the template's deployment id; each test database is a deployment of its own.
  await queryDatabase(databaseUrl(name), 'update berth.deployment set id = gen_random_uuid()');
  return {
    name,
    url: databaseUrl(name),
    drop: () => dropDatabase(name),
  };
}

/**
 * Drops a test database. Connections still closing are waited for (a few seconds) rather than
 * terminated: a terminated idle client errors in whichever process still holds it. Only then is
 * the drop forced.
 */
async function dropDatabase(name: string): Promise<void> {
  await withAdmin(async (c) => {
    for (let i = 0; i < 50; i += 1) {
      try {
        await c.query(`drop database if exists ${name}`);
        return;
      } catch (error) {
        // 55006: the database is being accessed by other users.
        if ((error as { code?: string }).code !== '55006') throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await c.query(`drop database if exists ${name} with (force)`);
  });
}

/** One query on a test database through a short-lived connection. */
export async function queryDatabase<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}
