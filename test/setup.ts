/**
 * Runs once before the integration tests (see package.json): checks that PostgreSQL and every
 * container engine under test are reachable — a missing one fails the run, it is never skipped —
 * builds the template database, and makes sure the test image exists on each engine.
 */
import { PgBoss } from 'pg-boss';
import { createPool } from '../src/db.ts';
import { ensureBusyboxImage } from '../scripts/busybox-image.ts';
import { migrate } from '../src/migrate.ts';
import { ensureQueues } from '../src/queue.ts';
import { createDockerEngine } from '../src/engine/docker-engine.ts';
import { adminUrl, databaseUrl, TEMPLATE_DATABASE, withAdmin } from './helpers/database.ts';
import { TEST_IMAGE, testEngines } from './helpers/engines.ts';

async function main(): Promise<void> {
  try {
    await withAdmin(async (c) => {
      await c.query(`drop database if exists ${TEMPLATE_DATABASE} with (force)`);
      await c.query(`create database ${TEMPLATE_DATABASE}`);
    });
  } catch (error) {
    throw new Error(`PostgreSQL is not reachable at ${adminUrl()} (set BERTH_TEST_DATABASE_URL)`, { cause: error });
  }
  const url = databaseUrl(TEMPLATE_DATABASE);
  const pool = createPool(url, { max: 1 });
  await migrate(pool);
  await pool.end();
  const boss = new PgBoss({ connectionString: url, supervise: false, schedule: false, registerInstance: false });
  boss.on('error', (error) => { throw error; });
  await boss.start();
  await ensureQueues(boss);
  await boss.stop({ graceful: false });

  for (const engine of testEngines()) {
    try {
      await createDockerEngine({ dockerHost: engine.dockerHost }).ping();
    } catch (error) {
      throw new Error(`container engine '${engine.name}' is not reachable at ${engine.dockerHost}; ` +
        'start it (scripts/setup.sh does) or narrow BERTH_TEST_ENGINES', { cause: error });
    }
    await ensureBusyboxImage(engine.dockerHost, TEST_IMAGE);
  }
  process.stdout.write(`test setup: template database ready; engines: ${testEngines().map((engine) => engine.name).join(', ')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`test setup failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  if (error instanceof Error && error.cause !== undefined) process.stderr.write(`cause: ${String(error.cause)}\n`);
  process.exit(1);
});
