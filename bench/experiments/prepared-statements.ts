/**
 * EXPERIMENT, not Berth's behaviour: preloaded into Berth's processes with
 *   BENCH_BERTH_NODE_ARGS='--import ./bench/experiments/prepared-statements.ts' npm run bench
 * it turns every parameterised single-statement query (Berth's own and pg-boss's) into a named
 * prepared statement, so PostgreSQL parses and plans each distinct SQL text once per connection
 * instead of on every call. Measures what the change suggested in RESULTS.md would give; the
 * results go to bench/results/*-experiment.json only.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

type Query = (config: unknown, values?: unknown, callback?: unknown) => unknown;

const require = createRequire(new URL('../../package.json', import.meta.url));
const pg = require('pg') as { Client: { prototype: { query: Query } } };
const original = pg.Client.prototype.query;
const names = new Map<string, string>();

function nameFor(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `b${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    names.set(text, name);
  }
  return name;
}

/** Only single statements with parameters: multi-statement texts cannot be prepared. */
function preparable(text: string, values: unknown): boolean {
  return Array.isArray(values) && !/;\s*\S/.test(text);
}

pg.Client.prototype.query = function query(this: unknown, config: unknown, values?: unknown, callback?: unknown): unknown {
  if (typeof config === 'string' && preparable(config, values)) {
    return original.call(this, { name: nameFor(config), text: config, values }, callback);
  }
  const c = config as { text?: unknown; name?: unknown; values?: unknown; submit?: unknown } | null;
  if (c !== null && typeof c === 'object' && typeof c.text === 'string' && c.name === undefined && c.submit === undefined
    && preparable(c.text, c.values ?? values)) {
    return original.call(this, { ...c, name: nameFor(c.text) }, values, callback);
  }
  return original.call(this, config, values, callback);
};
