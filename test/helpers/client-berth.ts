/**
 * A Berth for the SDK and CLI tests: `berth start` in a child process on a fresh database and the
 * given engine, with test/fixtures/client-runners.yaml and an admin and a read-only key.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { spawnBerth, type BerthProcess } from './berth-process.ts';
import { createTestDatabase } from './database.ts';
import type { TestEngine } from './engines.ts';
import { freePort } from './private-postgres.ts';

const CLIENT_RUNNERS = fileURLToPath(new URL('../fixtures/client-runners.yaml', import.meta.url));

export interface ClientBerth {
  readonly url: string;
  /** Scope admin. */
  readonly adminKey: string;
  /** Scope tasks:read only. */
  readonly readerKey: string;
  /** Stops Berth (which must exit 0) and starts it again on the same database and port. */
  restart(): Promise<void>;
  /** Stops Berth (which must exit 0) and drops its database. */
  close(): Promise<void>;
}

export async function startClientBerth(engine: TestEngine): Promise<ClientBerth> {
  const adminKey = `berth_admin_${randomBytes(12).toString('hex')}`;
  const readerKey = `berth_reader_${randomBytes(12).toString('hex')}`;
  const database = await createTestDatabase();
  // A port of its own rather than 0, so a restarted Berth answers where the clients already look.
  const port = await freePort();
  const start = async (): Promise<BerthProcess> => {
    const berth = spawnBerth(['start', '--config', CLIENT_RUNNERS], {
      DATABASE_URL: database.url, DOCKER_HOST: engine.dockerHost, PORT: String(port), BERTH_INSTANCE: database.name,
      KEY_ADMIN: adminKey, KEY_READER: readerKey,
    });
    await berth.waitForLog('berth is listening');
    return berth;
  };
  const stop = async (berth: BerthProcess): Promise<void> => {
    const code = await berth.stop('SIGTERM');
    assert.equal(code, 0, `berth must exit 0 on SIGTERM; output:\n${berth.output()}`);
  };
  let berth = await start();
  return {
    url: `http://127.0.0.1:${port}`, adminKey, readerKey,
    async restart() {
      await stop(berth);
      berth = await start();
    },
    async close() {
      await stop(berth);
      await database.drop();
    },
  };
}
