/**
 * package.json promises files to whoever installs Berth: the `berth` binary, and any entry point
 * `exports` or `main` names. After `npm run build` each must exist, and `berth/client` must
 * type-check in a project of a browser's kind: no Node types, every declaration file checked.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

const CONSUMER = `import { createClient, isBerthError, isFinalTask, type Task, type WorkflowRun } from 'berth/client';
const berth = createClient({ baseUrl: 'http://127.0.0.1:3000', apiKey: 'k', fetch: (url, init) => fetch(url, init) });
const task: Task = await berth.tasks.run('echo', { a: 1 }, { timeout: 5, priority: 2, startAfter: new Date() });
const status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' = task.status;
for await (const item of berth.tasks.list({ runner: 'echo', status: 'failed' })) console.log(item.id, item.error?.code);
for await (const chunk of berth.tasks.logs(task.id, { follow: true })) console.log(chunk.length);
const run: WorkflowRun = await berth.workflows.run('scan', {});
const names: string[] = (await berth.runners.list()).map((runner) => runner.name);
const next: string | undefined = (await berth.schedules.list())[0]?.nextTicks[0]?.utc;
// @ts-expect-error: not a task status
await berth.tasks.listPage({ status: 'done' });
try { await berth.tasks.cancel(task.id); } catch (error) { if (isBerthError(error, 'TASK_FINISHED')) console.log(error.statusCode); }
console.log(status, isFinalTask(task), run.steps.length, names, next);
`;

test('berth/client type-checks from the built package without Node types, every .d.ts included', async (t) => {
  await promisify(execFile)('npm', ['run', 'build'], { cwd: ROOT });
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-consumer-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // The package as installed, with typebox (the types' one dependency) and no other package: types
  // that reach pg, Node or fastify would fail here.
  await mkdir(path.join(dir, 'node_modules', 'berth'), { recursive: true });
  await cp(path.join(ROOT, 'dist'), path.join(dir, 'node_modules', 'berth', 'dist'), { recursive: true });
  await cp(path.join(ROOT, 'package.json'), path.join(dir, 'node_modules', 'berth', 'package.json'));
  await symlink(path.join(ROOT, 'node_modules', 'typebox'), path.join(dir, 'node_modules', 'typebox'));
  await writeFile(path.join(dir, 'package.json'), '{"type":"module"}');
  await writeFile(path.join(dir, 'main.ts'), CONSUMER);
  await writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2023', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023', 'DOM', 'DOM.AsyncIterable'],
      types: [], strict: true, noEmit: true, skipLibCheck: false,
    },
    include: ['main.ts'],
  }));
  const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
  const result = await promisify(execFile)(tsc, ['-p', dir]).then(() => '', (error: { stdout: string }) => error.stdout);
  assert.equal(result, '', 'berth/client must type-check as a browser project sees it');
});
