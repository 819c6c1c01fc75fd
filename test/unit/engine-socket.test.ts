import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpTarget, resolveEngineAddress } from '../../src/engine/engine-socket.ts';

test('unset or empty DOCKER_HOST means the default Docker socket', () => {
  assert.deepEqual(resolveEngineAddress(undefined), { kind: 'unix', socketPath: '/var/run/docker.sock' });
  assert.deepEqual(resolveEngineAddress(''), { kind: 'unix', socketPath: '/var/run/docker.sock' });
});

test('unix:// with an absolute path', () => {
  assert.deepEqual(resolveEngineAddress('unix:///run/podman/podman.sock'), {
    kind: 'unix',
    socketPath: '/run/podman/podman.sock',
  });
});

test('unix:// with a relative path is refused', () => {
  assert.throws(() => resolveEngineAddress('unix://run/docker.sock'), /absolute socket path/);
});

test('tcp://host:port', () => {
  assert.deepEqual(resolveEngineAddress('tcp://127.0.0.1:2375'), { kind: 'tcp', host: '127.0.0.1', port: 2375 });
  assert.deepEqual(resolveEngineAddress('tcp://docker.internal:12375/'), { kind: 'tcp', host: 'docker.internal', port: 12375 });
});

test('tcp:// without a port uses 2375, like the Docker CLI', () => {
  assert.deepEqual(resolveEngineAddress('tcp://localhost'), { kind: 'tcp', host: 'localhost', port: 2375 });
});

test('tcp:// with an IPv6 literal drops the brackets', () => {
  assert.deepEqual(resolveEngineAddress('tcp://[::1]:2375'), { kind: 'tcp', host: '::1', port: 2375 });
});

test('tcp:// with a path, or a bad port, is refused', () => {
  assert.throws(() => resolveEngineAddress('tcp://localhost:2375/v1.41'), /without a path/);
  assert.throws(() => resolveEngineAddress('tcp://localhost:99999'), /not a valid/);
});

test('unsupported schemes name the scheme', () => {
  assert.throws(() => resolveEngineAddress('ssh://user@host'), /"ssh:\/\/" is not supported/);
  assert.throws(() => resolveEngineAddress('https://host:2376'), /"https:\/\/" is not supported/);
  assert.throws(() => resolveEngineAddress('npipe:////./pipe/docker_engine'), /"npipe:\/\/" is not supported/);
  assert.throws(() => resolveEngineAddress('/var/run/docker.sock'), /has no scheme/);
});

test('httpTarget gives node:http options for each kind', () => {
  assert.deepEqual(httpTarget({ kind: 'unix', socketPath: '/x.sock' }), { socketPath: '/x.sock' });
  assert.deepEqual(httpTarget({ kind: 'tcp', host: 'h', port: 1 }), { host: 'h', port: 1 });
});
