import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EnvConfigError, loadConfig } from '../../src/config.ts';

test('defaults', () => {
  const config = loadConfig({}, { cwd: '/srv' });
  assert.deepEqual(config, {
    databaseUrl: undefined, dataDir: '/srv/.berth', embeddedPostgresPort: 54329, port: 3000, host: '127.0.0.1',
    dockerHost: undefined, runnersFile: '/srv/berth.yaml', workerConcurrency: 4, bodyLimitBytes: 1048576, batchBodyLimitBytes: 16777216, heldLimit: 1000,
    outputLimitBytes: 10485760, logLimitBytes: 1048576, shutdownGraceMs: 30000, logLevel: 'info', readyzChecksEngine: true,
    leaseMs: 30_000, retentionMs: 7 * 24 * 3600 * 1000, instance: undefined, cronSeconds: false, metricsPort: undefined, metricsHost: '127.0.0.1',
  });
  assert.ok(Object.isFrozen(config));
});

test('values from the environment; --config wins over BERTH_CONFIG', () => {
  const config = loadConfig({
    DATABASE_URL: 'postgres://u@h/db', PORT: '8080', HOST: '0.0.0.0', DOCKER_HOST: 'unix:///run/podman/podman.sock',
    BERTH_CONFIG: 'a.yaml', BERTH_WORKER_CONCURRENCY: '8', BERTH_BODY_LIMIT: '2MiB', BERTH_SHUTDOWN_GRACE: '1m',
  }, { cwd: '/srv', runnersFile: 'b.yaml' });
  assert.equal(config.databaseUrl, 'postgres://u@h/db');
  assert.equal(config.port, 8080);
  assert.equal(config.runnersFile, '/srv/b.yaml');
  assert.equal(config.workerConcurrency, 8);
  assert.equal(config.bodyLimitBytes, 2 * 1024 * 1024);
  assert.equal(config.shutdownGraceMs, 60_000);
  assert.equal(loadConfig({ BERTH_SHUTDOWN_GRACE: '5' }).shutdownGraceMs, 5000);
});

test('BERTH_RETENTION takes days, as the README gives its default; less than a day is refused', () => {
  assert.equal(loadConfig({ BERTH_RETENTION: '7d' }).retentionMs, 7 * 24 * 3600 * 1000);
  assert.equal(loadConfig({ BERTH_RETENTION: '1d12h' }).retentionMs, 36 * 3600 * 1000);
  assert.throws(() => loadConfig({ BERTH_RETENTION: '0.5d' }), /BERTH_RETENTION: must be a duration of at least 24h/);
});

test('BERTH_TEST_CRON_SECONDS: 1 allows a seconds field in schedules, 0 or unset does not, anything else is refused', () => {
  assert.equal(loadConfig({ BERTH_TEST_CRON_SECONDS: '1' }).cronSeconds, true);
  assert.equal(loadConfig({ BERTH_TEST_CRON_SECONDS: '0' }).cronSeconds, false);
  assert.equal(loadConfig({ BERTH_TEST_CRON_SECONDS: '' }).cronSeconds, false);
  assert.throws(() => loadConfig({ BERTH_TEST_CRON_SECONDS: 'true' }), (error: unknown) => {
    assert.ok(error instanceof EnvConfigError);
    assert.deepEqual(error.problems, ['BERTH_TEST_CRON_SECONDS: must be 1 or 0 (got "true")']);
    return true;
  });
});

test('every problem is listed at once', () => {
  assert.throws(
    () => loadConfig({ DATABASE_URL: 'mysql://x', PORT: 'eighty', BERTH_WORKER_CONCURRENCY: '0', BERTH_BODY_LIMIT: 'lots', LOG_LEVEL: 'loud' }),
    (error: unknown) => {
      assert.ok(error instanceof EnvConfigError);
      assert.deepEqual(error.problems.map((p) => p.split(':')[0]), ['DATABASE_URL', 'PORT', 'BERTH_WORKER_CONCURRENCY', 'BERTH_BODY_LIMIT', 'LOG_LEVEL']);
      return true;
    },
  );
});

test('BERTH_METRICS_PORT: unset means no worker metrics server; a port (0: any free one) turns it on; PORT\'s own is refused', () => {
  assert.equal(loadConfig({}).metricsPort, undefined);
  assert.equal(loadConfig({ BERTH_METRICS_PORT: '9464' }).metricsPort, 9464);
  assert.equal(loadConfig({ HOST: '0.0.0.0' }).metricsHost, '127.0.0.1', 'the keyless metrics port stays on loopback unless BERTH_METRICS_HOST says otherwise');
  assert.equal(loadConfig({ BERTH_METRICS_HOST: '0.0.0.0' }).metricsHost, '0.0.0.0');
  assert.equal(loadConfig({ BERTH_METRICS_PORT: '0' }).metricsPort, 0);
  assert.equal(loadConfig({ BERTH_METRICS_PORT: '0', PORT: '0' }).metricsPort, 0);
  assert.throws(() => loadConfig({ BERTH_METRICS_PORT: '3000' }), /BERTH_METRICS_PORT: must differ from PORT \(3000\)/);
  assert.throws(() => loadConfig({ BERTH_METRICS_PORT: 'metrics', PORT: 'x' }), (error: unknown) => {
    assert.ok(error instanceof EnvConfigError);
    assert.deepEqual(error.problems.map((p) => p.split(':')[0]), ['PORT', 'BERTH_METRICS_PORT']);
    return true;
  });
});
