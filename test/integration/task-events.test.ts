/**
 * Task events against a real PostgreSQL: NOTIFY is transactional, the fan-out reaches exactly the
 * subscribers it should, and the LISTEN connection survives being killed, going silent, or never
 * being reachable. "Not delivered" is proved with a barrier (a later event on the same channel that
 * did arrive), never with a sleep.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { createPool, withTransaction, type Pool } from '../../src/db.ts';
import { createLogger } from '../../src/logger.ts';
import {
  publishTaskEvent, startTaskEvents, TASK_EVENTS_APPLICATION_NAME, TASK_EVENTS_CHANNEL, type TaskEvents,
} from '../../src/task-events.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

const logger = createLogger('silent', 'test');
const FAST_RECONNECT = { initial: 10, max: 200 };
const DEADLINE_MS = 10_000;

let database: TestDatabase;
let pool: Pool;
before(async () => {
  database = await createTestDatabase();
  pool = createPool(database.url, { max: 3 });
});
after(async () => {
  await pool?.end();
  await database?.drop();
});

async function start(connectionString = database.url, extra: Partial<Parameters<typeof startTaskEvents>[0]> = {}): Promise<TaskEvents> {
  return startTaskEvents({ connectionString, logger, reconnectDelayMs: FAST_RECONNECT, ...extra });
}

/** Collects items; until() resolves once `check` holds (re-checked on every add), rejects at the deadline. */
function recorder<T>() {
  const seen: T[] = [];
  let wake = (): void => undefined;
  return {
    seen,
    add(item: T): void {
      seen.push(item);
      wake();
    },
    async until(check: (seen: T[]) => boolean, what: string, ms = DEADLINE_MS): Promise<void> {
      if (check(seen)) return;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; seen ${JSON.stringify(seen)}`)), ms);
        wake = () => {
          if (!check(seen)) return;
          clearTimeout(timer);
          wake = () => undefined;
          resolve();
        };
      });
    },
  };
}

function has(taskId: string, kind: string) {
  return (seen: [string, string][]) => seen.some(([t, k]) => t === taskId && k === kind);
}

async function withDeadline<T>(promise: Promise<T>, what: string, ms = DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

test('an event published in a transaction arrives only after commit, and never after rollback', async (t) => {
  const events = await start();
  t.after(() => events.close());
  assert.equal(events.connected, true);
  const all = recorder<[string, string]>();
  events.subscribeAll((taskId, kind) => all.add([taskId, kind]));

  await withTransaction(pool, async (tx) => {
    await publishTaskEvent(tx, 'committed', 'final');
    await publishTaskEvent(pool, 'barrier-1', 'status');
    await all.until(has('barrier-1', 'status'), 'barrier-1');
    assert.ok(!has('committed', 'final')(all.seen), 'delivered before commit');
  });
  await all.until(has('committed', 'final'), 'the committed event');

  await assert.rejects(withTransaction(pool, async (tx) => {
    await publishTaskEvent(tx, 'rolled-back', 'final');
    throw new Error('roll back');
  }), /roll back/);
  await publishTaskEvent(pool, 'barrier-2', 'status');
  await all.until(has('barrier-2', 'status'), 'barrier-2');
  assert.ok(!all.seen.some(([taskId]) => taskId === 'rolled-back'), 'delivered after rollback');
});

test('subscribe gets only its task, unsubscribe stops it, subscribeAll gets every task', async (t) => {
  const events = await start();
  t.after(() => events.close());
  const a = recorder<string>();
  const all = recorder<[string, string]>();
  const unsubscribeA = events.subscribe('task-a', (kind) => a.add(kind));
  events.subscribeAll((taskId, kind) => all.add([taskId, kind]));

  await publishTaskEvent(pool, 'task-a', 'status');
  await publishTaskEvent(pool, 'task-b', 'log');
  await all.until((seen) => has('task-a', 'status')(seen) && has('task-b', 'log')(seen), 'both events');
  assert.deepEqual(a.seen, ['status']);

  unsubscribeA();
  unsubscribeA(); // idempotent
  await publishTaskEvent(pool, 'task-a', 'final');
  await all.until(has('task-a', 'final'), 'task-a final');
  assert.deepEqual(a.seen, ['status']);
  assert.deepEqual(all.seen, [['task-a', 'status'], ['task-b', 'log'], ['task-a', 'final']]);
});

test('every subscriber of a task gets the event, even when one of them throws', async (t) => {
  const events = await start();
  t.after(() => events.close());
  const received = recorder<number>();
  events.subscribe('crowded', () => { throw new Error('a broken listener'); });
  for (let i = 0; i < 50; i += 1) events.subscribe('crowded', () => received.add(i));
  const sameFunction = (): void => received.add(-1);
  events.subscribe('crowded', sameFunction);
  events.subscribe('crowded', sameFunction);

  await publishTaskEvent(pool, 'crowded', 'log');
  await received.until((seen) => seen.length === 52, '52 deliveries');
  assert.deepEqual(received.seen.filter((i) => i >= 0).sort((x, y) => x - y), [...Array(50).keys()]);
});

test('malformed payloads are ignored and later events still arrive', async (t) => {
  const events = await start();
  t.after(() => events.close());
  const all = recorder<[string, string]>();
  events.subscribeAll((taskId, kind) => all.add([taskId, kind]));
  for (const payload of ['', 'final', 'final:', ':task', 'bogus:task']) {
    await pool.query('select pg_notify($1, $2)', [TASK_EVENTS_CHANNEL, payload]);
  }
  await publishTaskEvent(pool, 'after-garbage', 'final');
  await all.until(has('after-garbage', 'final'), 'the valid event');
  assert.deepEqual(all.seen, [['after-garbage', 'final']]);
});

test('a connection killed by the server is re-established, with resync, and events flow again', async (t) => {
  const events = await start();
  t.after(() => events.close());
  const task = recorder<string>();
  const resyncs = recorder<true>();
  events.subscribe('survivor', (kind) => task.add(kind));
  events.onResync(() => resyncs.add(true));

  const { rows } = await pool.query(
    'select pg_terminate_backend(pid) as killed from pg_stat_activity where application_name = $1 and datname = $2',
    [TASK_EVENTS_APPLICATION_NAME, database.name],
  );
  assert.deepEqual(rows, [{ killed: true }]);
  await task.until((seen) => seen.includes('resync'), 'resync');
  await resyncs.until((seen) => seen.length === 1, 'onResync');
  assert.equal(events.connected, true);

  await publishTaskEvent(pool, 'survivor', 'final');
  await task.until((seen) => seen.includes('final'), 'the event after reconnecting');
  assert.deepEqual(task.seen, ['resync', 'final']);
});

test('a connection that goes silent is detected by the heartbeat and replaced', async (t) => {
  const target = new URL(database.url);
  const proxy = await startFreezableProxy(Number(target.port || 5432), target.hostname);
  t.after(() => proxy.close());
  const viaProxy = new URL(database.url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const events = await start(viaProxy.toString(), { heartbeatMs: { interval: 100, timeout: 300 } });
  t.after(() => events.close());
  const task = recorder<string>();
  events.subscribe('quiet', (kind) => task.add(kind));

  proxy.freezeOpenConnections();
  await task.until((seen) => seen.includes('resync'), 'resync after the silent connection was replaced');
  await publishTaskEvent(pool, 'quiet', 'status');
  await task.until((seen) => seen.includes('status'), 'the event after reconnecting');
});

test('a database unreachable at start: resolves disconnected, keeps retrying, closes promptly', async () => {
  const events = await withDeadline(start('postgres://postgres@127.0.0.1:1/none'), 'startTaskEvents');
  assert.equal(events.connected, false);
  events.subscribe('anything', () => assert.fail('no event can arrive'));
  await withDeadline(events.close(), 'close()', 2_000);
  assert.equal(events.connected, false);
});

test('a database down at start is connected in the background once it comes up, with resync', async (t) => {
  const port = await freePort();
  const events = await start(`postgres://postgres@127.0.0.1:${port}/${database.name}`);
  t.after(() => events.close());
  assert.equal(events.connected, false);
  const task = recorder<string>();
  events.subscribe('late', (kind) => task.add(kind));

  const target = new URL(database.url);
  const proxy = await startFreezableProxy(Number(target.port || 5432), target.hostname, port);
  t.after(() => proxy.close());
  await task.until((seen) => seen.includes('resync'), 'resync once the database is reachable');
  assert.equal(events.connected, true);
  await publishTaskEvent(pool, 'late', 'log');
  await task.until((seen) => seen.includes('log'), 'the event');
});

test('close() stops delivery and is idempotent', async (t) => {
  const closing = await start();
  const witness = await start();
  t.after(() => witness.close());
  const closed = recorder<string>();
  const seen = recorder<string>();
  closing.subscribe('after-close', (kind) => closed.add(kind));
  closing.onResync(() => closed.add('resync'));
  witness.subscribe('after-close', (kind) => seen.add(kind));

  await closing.close();
  await closing.close();
  assert.equal(closing.connected, false);
  await publishTaskEvent(pool, 'after-close', 'final');
  await seen.until((s) => s.includes('final'), 'the witness to see the event');
  assert.deepEqual(closed.seen, []);
});

/**
 * A TCP proxy whose open connections can be frozen: bytes stop flowing both ways but no socket is
 * closed — what a crashed host or a NAT that dropped its state looks like. New connections pass.
 */
async function startFreezableProxy(targetPort: number, targetHost: string, listenPort = 0) {
  const sockets = new Set<net.Socket>();
  const frozen = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from);
      from.on('data', (chunk) => { if (!frozen.has(from)) to.write(chunk); });
      from.on('close', () => { sockets.delete(from); frozen.delete(from); to.destroy(); });
      from.on('error', () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    freezeOpenConnections(): void {
      for (const socket of sockets) frozen.add(socket);
    },
    async close(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

/** A port nothing listens on (until a test starts listening there). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
