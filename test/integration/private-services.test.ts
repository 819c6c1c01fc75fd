/**
 * The private PostgreSQL and Podman service that recovery tests stop and start under Berth: each
 * really goes away and really comes back, keeps its data (or its containers), and leaves no
 * process, socket or temp dir behind.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import pg from 'pg';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { ensureBusyboxImage } from '../../scripts/busybox-image.ts';
import { RUN_TASK_QUEUE } from '../../src/queue.ts';
import { runLeavingNothing, TEST_FILE_LABEL, TEST_IMAGE, testSpec } from '../helpers/engines.ts';
import { startPrivatePodman, type PrivateEngine } from '../helpers/private-engine.ts';
import { prepareBerthDatabase, startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres.ts';

const FILE_ID = randomUUID();

describe('private PostgreSQL', () => {
  let server: PrivatePostgres;
  const postmasterPids = new Set<number>();
  const notePostmaster = (): void => {
    postmasterPids.add(Number(readFileSync(path.join(server.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]));
  };

  before(async () => {
    server = await startPrivatePostgres();
    notePostmaster();
  });

  after(async () => {
    if (server === undefined) return;
    await server.destroy();
    assert.equal(existsSync(server.dir), false, `${server.dir} left behind`);
    for (const pid of postmasterPids) assert.equal(isAlive(pid), false, `postmaster ${pid} still running`);
    assert.equal(await canConnectTcp(server.port), false, `something still listens on ${server.port}`);
  });

  test('stop ends connections; start brings the same data back on the same port', async () => {
    const { url, port } = server;
    const earlier = await connect(url);
    await earlier.client.query('create table kept (value text)');
    await earlier.client.query('insert into kept values ($1)', ['written before the stop']);

    await server.stop();
    const failed = await earlier.client.query('select 1').then(() => undefined, (error: Error) => error);
    assert.ok(failed !== undefined, 'a query on a connection from before the stop still worked');
    // The termination reaches the client as the query's error or as an 'error' event, by timing.
    const seen = [failed, ...earlier.errors].map((error) => error.message);
    assert.ok(seen.some((message) => /terminat/i.test(message)), `no connection termination among: ${seen.join('; ')}`);
    await earlier.client.end().catch(() => undefined);
    await assert.rejects(connect(url), (error: NodeJS.ErrnoException) => {
      assert.equal(error.code, 'ECONNREFUSED');
      return true;
    });

    await server.start();
    notePostmaster();
    assert.equal(server.port, port);
    const later = await connect(url);
    try {
      const { rows } = await later.client.query<{ value: string }>('select value from kept');
      assert.deepEqual(rows, [{ value: 'written before the stop' }]);
    } finally {
      await later.client.end();
    }
  });

  test('prepareBerthDatabase creates a database with Berth tables and the pg-boss queue', async () => {
    const url = server.databaseUrl('berth_private');
    await prepareBerthDatabase(url);
    await prepareBerthDatabase(url); // idempotent, like migrations at every process start
    const { client } = await connect(url);
    try {
      const { rows } = await client.query<{ tasks: string | null; job: string | null }>(
        "select to_regclass('berth.tasks')::text as tasks, to_regclass('pgboss.job')::text as job");
      assert.deepEqual(rows, [{ tasks: 'berth.tasks', job: 'pgboss.job' }]);
      const queues = await client.query('select name from pgboss.queue where name = $1', [RUN_TASK_QUEUE]);
      assert.equal(queues.rowCount, 1);
    } finally {
      await client.end();
    }
  });
});

describe('private Podman service', () => {
  let engine: PrivateEngine;
  let docker: Docker;
  const servicePids = new Set<number>();
  const noteService = (): void => {
    const pid = engine.pid();
    assert.ok(pid !== undefined, 'service not running');
    servicePids.add(pid);
  };

  before(async () => {
    engine = await startPrivatePodman();
    noteService();
    docker = new Docker({ socketPath: engine.socketPath });
    await ensureBusyboxImage(engine.dockerHost, TEST_IMAGE);
  });

  after(async () => {
    if (engine === undefined) return;
    try {
      await engine.start();
      await createDockerEngine({ dockerHost: engine.dockerHost }).removeContainers({ [TEST_FILE_LABEL]: FILE_ID });
    } finally {
      await engine.destroy();
    }
    assert.equal(engine.pid(), undefined);
    for (const pid of servicePids) assert.equal(isAlive(pid), false, `podman service ${pid} still running`);
    assert.equal(existsSync(engine.socketPath), false, `${engine.socketPath} left behind`);
  });

  test('ping fails while stopped and answers again after start; containers run after a restart', async () => {
    assert.equal(await docker.ping().then((body) => String(body)), 'OK');

    await engine.stop();
    await assert.rejects(docker.ping(), 'ping after stop');
    await engine.start();
    noteService();
    assert.equal(await docker.ping().then((body) => String(body)), 'OK');

    await engine.stop({ signal: 'SIGKILL' });
    assert.equal(existsSync(engine.socketPath), true, 'SIGKILL leaves the socket file');
    await assert.rejects(docker.ping(), 'ping after SIGKILL');
    await engine.start();
    noteService();

    const input = Buffer.from('through the restarted service\n');
    const outcome = await runLeavingNothing(
      createDockerEngine({ dockerHost: engine.dockerHost }),
      testSpec(FILE_ID, { command: ['cat'], stdin: input }),
    );
    assert.equal(outcome.exitCode, 0);
    assert.ok(outcome.stdout.equals(input), `stdout was ${JSON.stringify(outcome.stdout.toString())}`);
  });

  test('a running container survives the service being stopped (SIGTERM and SIGKILL)', async () => {
    const container = await createSleeper(docker);
    try {
      const pid = (await container.inspect()).State.Pid;
      assert.ok(pid > 0 && isAlive(pid));
      for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
        await engine.stop({ signal });
        assert.ok(isAlive(pid), `container process died with the service (${signal})`);
        await engine.start();
        noteService();
        const state = (await container.inspect()).State;
        assert.equal(state.Running, true, `after ${signal}: ${JSON.stringify(state)}`);
        assert.equal(state.Pid, pid);
      }
    } finally {
      await container.remove({ force: true });
    }
  });

  test('a container that exits while the service is down is reported exited after start', async () => {
    const container = await createSleeper(docker);
    try {
      const pid = (await container.inspect()).State.Pid;
      await engine.stop();
      process.kill(pid, 'SIGKILL');
      await engine.start();
      noteService();
      const deadline = Date.now() + 15_000;
      let state = (await container.inspect()).State;
      while (state.Status !== 'exited' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        state = (await container.inspect()).State;
      }
      assert.equal(state.Status, 'exited', JSON.stringify(state));
      assert.equal(state.ExitCode, 137);
    } finally {
      await container.remove({ force: true });
    }
  });
});

async function createSleeper(docker: Docker): Promise<Docker.Container> {
  const container = await docker.createContainer({
    name: `berth-test-${randomUUID()}`,
    Image: TEST_IMAGE,
    Cmd: ['sleep', '600'],
    Labels: { [TEST_FILE_LABEL]: FILE_ID },
    HostConfig: { NetworkMode: 'none' },
  });
  await container.start();
  return container;
}

async function connect(url: string): Promise<{ client: pg.Client; errors: Error[] }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  const errors: Error[] = [];
  // A server going away is reported as an 'error' event, which would crash the run unheard.
  client.on('error', (error) => errors.push(error));
  await client.connect();
  return { client, errors };
}

/** True while the process exists and is not a zombie. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function canConnectTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}
