import assert from 'node:assert/strict';
import { test } from 'node:test';
import { engineKindOf, rememberEngineKind } from '../../src/engine/engine-kind.ts';

// Trimmed from the /version answers of Docker 20.10 and Podman 4.3's compat API.
const DOCKER = { Components: [{ Name: 'Engine', Version: '20.10.24' }, { Name: 'containerd' }, { Name: 'runc' }], Version: '20.10.24' };
const PODMAN = { Components: [{ Name: 'Podman Engine', Version: '4.3.1' }, { Name: 'Conmon' }, { Name: 'OCI Runtime (runc)' }], Version: '4.3.1' };

test('Docker is recognised by its "Engine" component; Podman and anything unknown are "other"', () => {
  assert.equal(engineKindOf(DOCKER), 'docker');
  assert.equal(engineKindOf(PODMAN), 'other');
  assert.equal(engineKindOf({ Components: [{ Name: 'Engine' }, { Name: 'Podman Engine' }] }), 'other');
  assert.equal(engineKindOf({ Version: '1.0' }), 'other');
  assert.equal(engineKindOf(null), 'other');
});

test('the kind is asked once; a failed question is asked again', async () => {
  let calls = 0;
  const kind = rememberEngineKind(async () => {
    calls += 1;
    if (calls === 1) throw new Error('engine unreachable');
    return DOCKER;
  });
  await assert.rejects(kind(), /engine unreachable/);
  assert.deepEqual(await Promise.all([kind(), kind()]), ['docker', 'docker']);
  assert.equal(await kind(), 'docker');
  assert.equal(calls, 2);
});
