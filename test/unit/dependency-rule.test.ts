/**
 * The dependency rule of src/, checked on every test run: folders import downward only.
 *
 *   cli.ts                       the entry point: starts the processes, or runs a client command
 *   client-cli/, server-cli/     the client commands (submit, status, …) on the SDK; the server commands (serve, …)
 *   api/, worker/                the processes: construct and wire; never each other
 *   ui/                          the web page's modules (served by api/routes/ui.ts), on the SDK
 *   client/                      the SDK (berth/client): see the rule of its own below
 *   callbacks/ > webhooks/ > tasks/ > runners/    the features, each above the next
 *   the flat files > engine/     infrastructure: import no feature or process
 *
 * And: a store (*-store.ts, one SQL statement per function) is imported only from its own folder,
 * so a task's status is changed only through src/tasks/ (task-lifecycle.ts); nothing in src/
 * imports test/, bench/ or scripts/.
 *
 * A small scanner rather than dependency-cruiser or ESLint: the rule is six lines of data, and the
 * project then needs no linter toolchain that must keep up with TypeScript 7.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const src = path.join(root, 'src');

const LAYERS: Readonly<Record<string, number>> = {
  'cli.ts': 6, 'client-cli': 5.5, 'server-cli': 5.5, api: 5, worker: 5, ui: 4.75, client: 4.5, callbacks: 4, webhooks: 3, tasks: 2, runners: 1, '.': 0, engine: -1,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Relative specifiers of every static, re-export and dynamic import in `text`. */
export function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g)) found.push(match[1]!);
  for (const match of text.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) found.push(match[1]!);
  for (const match of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(match[1]!);
  return found.filter((specifier) => specifier.startsWith('.'));
}

/** The folder of src/ a file belongs to: 'api', 'tasks', …; '.' for the flat files; 'cli.ts' for the entry point. */
function unitOf(file: string): string {
  const relative = path.relative(src, file);
  if (relative === 'cli.ts') return 'cli.ts';
  const [first, ...rest] = relative.split(path.sep);
  return rest.length === 0 ? '.' : first!;
}

function violations(): string[] {
  const problems: string[] = [];
  for (const file of sourceFiles(src)) {
    const from = path.relative(root, file);
    for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
      const target = path.resolve(path.dirname(file), specifier);
      const to = path.relative(root, target);
      if (!target.startsWith(src + path.sep)) {
        problems.push(`${from} imports ${to}: nothing in src/ imports from outside it`);
        continue;
      }
      if (target.endsWith('-store.ts') && path.dirname(target) !== path.dirname(file)) {
        problems.push(`${from} imports ${to}: a store is private to its folder`);
      }
      const [a, b] = [unitOf(file), unitOf(target)];
      if (a === b) continue;
      const [la, lb] = [LAYERS[a], LAYERS[b]];
      if (la === undefined || lb === undefined) problems.push(`${from} or ${to}: folder not placed in a layer`);
      else if (lb >= la) problems.push(`${from} imports ${to}: ${a} may only import folders below it, not ${b}`);
    }
  }
  return problems;
}

test('src/ imports only downward: processes, then features, then infrastructure; stores stay in their folder', () => {
  assert.deepEqual(violations(), []);
});

test('the scanner sees every kind of import (so the rule above cannot pass by missing them)', () => {
  const text = [
    `import { a } from './a.ts';`, `import type { B } from "../b.ts";`, `export { c } from './c.ts';`,
    `import './side-effect.ts';`, `const d = await import('./d.ts');`, `import {\n  e,\n} from './e.ts';`, `import pg from 'pg';`,
  ].join('\n');
  assert.deepEqual(importsOf(text).sort(), ['../b.ts', './a.ts', './c.ts', './d.ts', './e.ts', './side-effect.ts']);
});

/**
 * The SDK runs in browsers and must not pull the server into a bundle: outside src/client/ it
 * imports only types (`import type`, erased), and at run time only files that import nothing
 * themselves (plain data such as task-status.ts); no package and no node: module at all.
 */
export function clientViolations(files: readonly { file: string; text: string }[], read: (file: string) => string): string[] {
  const problems: string[] = [];
  for (const { file, text } of files) {
    for (const match of text.matchAll(/(?:^|\n)\s*(import|export)\s+(type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g)) {
      const [, , typeOnly, specifier] = match as unknown as [string, string, string | undefined, string];
      if (!specifier.startsWith('.')) {
        if (typeOnly === undefined) problems.push(`${file} imports '${specifier}': the SDK imports no package or node: module`);
        continue;
      }
      const target = path.resolve(path.dirname(file), specifier);
      if (path.dirname(target) === path.dirname(file) || typeOnly !== undefined) continue;
      if (importsOf(read(target)).length > 0 || /\bfrom\s*['"]/.test(read(target))) {
        problems.push(`${file} imports ${path.relative(root, target)} at run time: outside src/client/ only \`import type\` or a file that imports nothing`);
      }
    }
    for (const match of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) problems.push(`${file} imports '${match[1]!}' dynamically`);
  }
  return problems;
}

test('src/client/ imports, outside itself, only types and files that import nothing', () => {
  const dir = path.join(src, 'client');
  const files = sourceFiles(dir).map((file) => ({ file, text: readFileSync(file, 'utf8') }));
  assert.ok(files.length > 0);
  assert.deepEqual(clientViolations(files, (file) => readFileSync(file, 'utf8')), []);
});

test('the SDK rule catches a value import of a server module, a package, and a node: module', () => {
  const file = path.join(src, 'client', 'x.ts');
  const text = "import { AppError } from '../errors.ts';\nimport { Type } from 'typebox';\nimport { readFile } from 'node:fs';\n" +
    "import type { Task } from '../tasks/task-schemas.ts';\nimport { FINAL_STATUSES } from '../tasks/task-status.ts';\n";
  const problems = clientViolations([{ file, text }], (target) => readFileSync(target, 'utf8'));
  assert.equal(problems.length, 3, problems.join('\n'));
  assert.match(problems[0]!, /src\/errors\.ts at run time/);
  assert.match(problems[1]!, /'typebox'/);
  assert.match(problems[2]!, /'node:fs'/);
});
