/**
 * /readyz names what is down: an unreachable engine, an unreachable database; never the raw error
 * (a socket path, an address), which is for the log.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPool } from '../../src/db.ts';
import { createReadinessCheck } from '../../src/readiness.ts';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { startApiStack } from '../helpers/stack.ts';
import { testEngines } from '../helpers/engines.ts';

test('readyz → 503 naming the engine when the engine is unreachable', async () => {
  const stack = await startApiStack({ dockerHost: 'unix:///nonexistent/engine.sock' });
  try {
    const response = await stack.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(response.statusCode, 503);
    assert.equal(response.json().code, 'NOT_READY');
    assert.equal(response.json().message, 'not ready: container engine unreachable');
  } finally {
    await stack.close();
  }
});

test('readyz → 503 naming the database when it is unreachable', async () => {
  const pool = createPool('postgres://postgres@127.0.0.1:1/none', { max: 1 });
  pool.on('error', () => undefined);
  const engine = createDockerEngine({ dockerHost: testEngines()[0]!.dockerHost });
  const stack = await startApiStack({ readiness: createReadinessCheck({ pool, engine }) });
  try {
    const response = await stack.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(response.statusCode, 503);
    assert.equal(response.json().message, 'not ready: database unreachable');
  } finally {
    await stack.close();
    await pool.end();
  }
});
