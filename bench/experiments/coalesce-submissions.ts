/**
 * EXPERIMENT, not Berth's behaviour: preloaded into Berth's processes with
 *   BENCH_BERTH_NODE_ARGS='--import ./bench/experiments/coalesce-submissions.ts' npm run bench
 * it makes every import of src/tasks/task-service.ts load coalesced-task-service.ts instead, i.e.
 * Berth as shipped except that concurrent single submissions share transactions. Measures what the
 * change suggested in RESULTS.md would give; results go to bench/results/*-experiment.json only.
 */
import { registerHooks } from 'node:module';

const SHIPPED = new URL('../../src/tasks/task-service.ts', import.meta.url).href;
const COALESCED = new URL('./coalesced-task-service.ts', import.meta.url).href;

registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    if (resolved.url === SHIPPED && context.parentURL !== COALESCED) return { ...resolved, url: COALESCED, shortCircuit: true };
    return resolved;
  },
});
