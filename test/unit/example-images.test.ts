/**
 * The two ways to get an example's image make the same image: each Dockerfile copies exactly the
 * files scripts/example-images.ts imports, into /app/, with the same command.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { EXAMPLE_IMAGES } from '../../scripts/example-images.ts';

for (const image of EXAMPLE_IMAGES.filter((candidate) => candidate.files.length > 0)) {
  test(`${image.ref}: the Dockerfile builds what example-images.ts imports`, async () => {
    const name = /^berth\/([\w-]+):/.exec(image.ref)?.[1];
    assert.ok(name !== undefined, image.ref);
    const instructions = (await readFile(new URL(`../../examples/${name}/Dockerfile`, import.meta.url), 'utf8'))
      .split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
    assert.deepEqual(instructions, [
      'FROM berth/busybox:1',
      `COPY ${image.files.join(' ')} /app/`,
      `CMD ${JSON.stringify(image.cmd)}`,
    ]);
  });
}
