/**
 * Phase 4: resident memory of the API and the worker over a long run, tasks submitted with
 * `Prefer: wait` by 8 clients to a worker of concurrency 8, both processes freshly started for
 * this phase with --trace-gc (read only for the heap left after each full GC).
 *
 * Warm-up runs in blocks until RSS has settled: V8 grows its heap towards a steady size over the
 * first few thousand tasks, which is not a leak. It ends once both processes grew less than
 * SETTLED_PCT over the last SETTLED_BLOCKS blocks (at least MIN_WARM_BLOCKS, at most maxWarmUpTasks). Then
 * VmRSS is read at the start, after every block and at the end of at least 5,000 tasks: a leak
 * keeps growing there, a settled process stays flat. The heap after full GC tells the two apart
 * too. Warm-up samples are kept for the record.
 *
 * The worker talks to the stand-in engine (stand-in-engine.ts), so this takes minutes where the
 * real engine would need most of an hour; everything of Berth's still runs per task. As a
 * by-product this measures Berth's own ceiling: tasks per second and CPU per task with a free engine.
 */
import { snapshot, usageBetween, type CpuUsage, type PidSource } from './cpu-meter.ts';
import { rssMiB, type BerthChild } from './berth-process.ts';
import { runTaskThroughBerth, type BenchClient } from './http-client.ts';
import { round, runLoad, summarise, taskInput, type LatencySummary } from './load.ts';

export interface RssSample {
  readonly tasksDone: number;
  readonly apiMiB: number;
  readonly workerMiB: number;
  /** Heap in use after the latest full GC (MiB), if one happened yet. */
  readonly apiHeapMiB: number | null;
  readonly workerHeapMiB: number | null;
}

export interface MemoryResult {
  readonly engine: 'stand-in';
  readonly concurrency: number;
  readonly warmUpTasks: number;
  /** RSS after each warm-up block, from the processes' start. */
  readonly warmUpSamples: readonly RssSample[];
  readonly tasks: number;
  readonly samples: readonly RssSample[];
  readonly apiGrowthPct: number;
  readonly workerGrowthPct: number;
  readonly perSecond: number;
  readonly latency: LatencySummary;
  readonly cpu: CpuUsage;
  /** CPU ms per task of each process group (Berth's own cost with a free engine). */
  readonly cpuMsPerTask: Readonly<Record<string, number>>;
}

export interface MemoryDeps {
  readonly api: BerthChild;
  readonly worker: BerthChild;
  readonly client: BenchClient;
  readonly backends: PidSource;
  /** Warm-up stops here even if RSS is still rising (the measured run then shows it). */
  readonly maxWarmUpTasks: number;
  readonly tasks: number;
  readonly sampleEvery: number;
  readonly log: (line: string) => void;
}

const CONCURRENCY = 8;
const SETTLED_PCT = 3;
/** The worker's RSS rises in steps with pauses of a block or two between them, so look at three. */
const SETTLED_BLOCKS = 3;
/** Runs so far: the worker's RSS reaches its plateau (about 340-350 MiB) after 6,000 to 9,000 tasks. */
const MIN_WARM_BLOCKS = 8;

export async function runMemory(deps: MemoryDeps): Promise<MemoryResult> {
  const { api, worker } = deps;
  const operation = async (i: number): Promise<void> => { await runTaskThroughBerth(deps.client, taskInput(i)); };
  const sample = async (tasksDone: number): Promise<RssSample> => ({
    tasksDone, apiMiB: await rssMiB(api.pid), workerMiB: await rssMiB(worker.pid),
    apiHeapMiB: api.heapAfterFullGcMiB() ?? null, workerHeapMiB: worker.heapAfterFullGcMiB() ?? null,
  });
  const warmUpSamples: RssSample[] = [];
  for (let block = 1; block * deps.sampleEvery <= deps.maxWarmUpTasks; block++) {
    await runLoad(deps.sampleEvery, CONCURRENCY, operation);
    const now = await sample(block * deps.sampleEvery);
    warmUpSamples.push(now);
    const earlier = warmUpSamples.at(-1 - SETTLED_BLOCKS);
    const rose = earlier === undefined ? Number.POSITIVE_INFINITY
      : Math.max(growth(earlier.apiMiB, now.apiMiB), growth(earlier.workerMiB, now.workerMiB));
    deps.log(`  warm-up ${now.tasksDone} tasks: api ${now.apiMiB} MiB, worker ${now.workerMiB} MiB` +
      (Number.isFinite(rose) ? ` (+${round(rose)}% over ${SETTLED_BLOCKS} blocks)` : ''));
    if (block >= MIN_WARM_BLOCKS && rose < SETTLED_PCT) break;
  }
  const warmUpTasks = warmUpSamples.at(-1)!.tasksDone;
  const groups = { api: [api.pid], worker: [worker.pid], postgres: deps.backends };
  const samples: RssSample[] = [await sample(0)];
  const before = await snapshot(groups);
  const latencies: number[] = [];
  let elapsedMs = 0;
  for (let done = 0; done < deps.tasks;) {
    const count = Math.min(deps.sampleEvery, deps.tasks - done);
    const run = await runLoad(count, CONCURRENCY, (i) => operation(done + i));
    latencies.push(...run.latenciesMs);
    elapsedMs += run.elapsedMs;
    done += count;
    const now = await sample(done);
    samples.push(now);
    deps.log(`  ${done}/${deps.tasks} tasks: api ${now.apiMiB} MiB, worker ${now.workerMiB} MiB`);
  }
  const cpu = usageBetween(before, await snapshot(groups));
  const first = samples[0]!;
  const last = samples.at(-1)!;
  return {
    engine: 'stand-in',
    concurrency: CONCURRENCY,
    warmUpTasks,
    warmUpSamples,
    tasks: deps.tasks,
    samples,
    apiGrowthPct: round(growth(first.apiMiB, last.apiMiB)),
    workerGrowthPct: round(growth(first.workerMiB, last.workerMiB)),
    perSecond: round((deps.tasks * 1000) / elapsedMs),
    latency: summarise(latencies),
    cpu,
    cpuMsPerTask: Object.fromEntries(Object.entries(cpu.cpuMs).map(([k, v]) => [k, round(v / deps.tasks, 2)])),
  };
}

function growth(from: number, to: number): number {
  return ((to - from) * 100) / from;
}
