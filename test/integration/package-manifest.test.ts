/**
 * package.json promises files to whoever installs Berth: the `berth` binary, and any entry point
 * `exports` or `main` names. After `npm run build` each must exist.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Every file path in an exports/bin value: a string, or objects of subpaths and conditions. */
function pathsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value === null || typeof value !== 'object') return [];
  return Object.values(value).flatMap(pathsIn);
}

test('every file package.json names exists after npm run build', async () => {
  await promisify(execFile)('npm', ['run', 'build'], { cwd: ROOT });
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  const named = [...pathsIn(manifest['bin']), ...pathsIn(manifest['exports']), ...pathsIn(manifest['main'])];
  assert.ok(named.includes('dist/cli.js'), 'the berth binary is dist/cli.js');
  const missing = named.filter((file) => !existsSync(path.join(ROOT, file)));
  assert.deepEqual(missing, [], 'package.json names files the build does not make');
  // The built binary runs, and finds package.json from dist/ as it does from src/.
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), '--version']);
  assert.equal(stdout, `${String(manifest['version'])}\n`);
});
