import assert from 'node:assert/strict';
import { test } from 'node:test';
import { moduleFile } from '../../src/api/routes/ui.ts';

test('the web page\'s modules: src/ui/, src/client/ and task-status, as .js or .ts, in this process\'s own form', () => {
  for (const path of ['ui/main.js', 'ui/main.ts', 'client/index.ts', 'client/tasks-client.js', 'tasks/task-status.js']) {
    const file = moduleFile(path);
    assert.ok(file !== undefined, path);
    assert.ok(file.pathname.endsWith(`/src/${path.replace(/\.js$/, '.ts')}`), `${path} → ${file.pathname}`);
  }
});

test('nothing else: other folders and files, other extensions, traversal, subfolders', () => {
  for (const path of [
    'tasks/task-store.ts', 'api/app.ts', 'config.ts', 'ui/../config.ts', '../package.json', 'ui/%2e%2e/config.ts', 'ui/main.d.ts',
    'ui/main.ts.map', 'ui/main', 'ui/', 'client/x/y.ts', 'ui/Main.ts', '/ui/main.ts', 'ui//main.ts', 'ui/main.ts?x', 'ui/-x.ts',
  ]) assert.equal(moduleFile(path), undefined, path);
});
