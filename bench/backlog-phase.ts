/**
 * Queued backlog: how fast a pile of waiting tasks drains, Berth against the raw engine.
 * - raw: the fastest raw way (raw-engine.ts) runs N containers, C at a time;
 * - Berth: N tasks submitted at once (one POST /tasks/batch) to a Berth whose worker runs with
 *   BERTH_WORKER_CONCURRENCY=C, timed from the submission until the last task's finished_at;
 * tasks per second of each and the ratio (target: Berth >= 90% of raw).
 * - a saturated runner: N tasks for a runner with `concurrency: 2` (bench/berth.yaml) on a worker
 *   with more slots than that, against raw at C=2. It must drain at the limit's pace (not stall)
 *   and cost about what an unlimited backlog costs per task (not spin: the worker and PostgreSQL
 *   CPU while tasks wait for a free slot is what shows it); the most tasks seen running at once
 *   checks that the limit held.
 * Completion is read from the task rows by a connection the CPU meter leaves out (cpu-meter.ts).
 */
import pg from 'pg';
import type { BerthChild } from './berth-process.ts';
import { BENCH_CONNECTION, snapshot, usageBetween, type CpuUsage, type PidSource } from './cpu-meter.ts';
import type { BenchDatabase } from './database.ts';
import type { EngineTarget } from './engine-target.ts';
import type { BenchClient } from './http-client.ts';
import { round, runLoad, taskInput, warmUpTasks } from './load.ts';
import { runRawChecked } from './raw-engine.ts';

/** Runners of bench/berth.yaml: both run `cat`; the second allows 2 tasks at once. */
export const RUNNER = 'echo';
export const LIMITED_RUNNER = 'echo-limited';
export const RUNNER_LIMIT = 2;

export interface DrainFigures {
  readonly tasks: number;
  readonly concurrency: number;
  readonly elapsedMs: number;
  readonly perSecond: number;
  readonly cpu: CpuUsage;
  readonly cpuMsPerTask: Readonly<Record<string, number>>;
}

export interface BacklogLevel {
  readonly concurrency: number;
  readonly raw: DrainFigures;
  readonly berth: DrainFigures;
  /** Berth/raw tasks per second. */
  readonly throughputRatio: number;
}

export interface SaturatedRunner {
  readonly runnerConcurrency: number;
  readonly workerConcurrency: number;
  /** The raw engine at the runner's limit. */
  readonly raw: DrainFigures;
  readonly berth: DrainFigures;
  readonly throughputRatio: number;
  /** Most of the runner's tasks seen running at once (sampled): must not exceed the limit. */
  readonly maxRunning: number;
}

export interface BacklogResult {
  readonly tasks: number;
  readonly levels: readonly BacklogLevel[];
  readonly saturated: SaturatedRunner;
}

export interface BacklogDeps {
  readonly target: EngineTarget;
  readonly database: BenchDatabase;
  readonly backends: PidSource;
  readonly client: BenchClient;
  readonly api: BerthChild;
  readonly engine: PidSource;
  startWorker(concurrency: number): Promise<BerthChild>;
  readonly tasks: number;
  readonly levels: readonly number[];
  /** Worker slots in the saturated-runner case (more than RUNNER_LIMIT). */
  readonly saturatedWorkerConcurrency: number;
  readonly log: (line: string) => void;
}

const POLL_MS = 100;

export async function runBacklog(deps: BacklogDeps): Promise<BacklogResult> {
  const rows = new pg.Client({ connectionString: deps.database.url, application_name: BENCH_CONNECTION });
  // An interrupted run drops the database under this connection; its queries fail with the cause,
  // and the event must not crash the process before the cleanup has removed the containers.
  rows.on('error', () => undefined);
  await rows.connect();
  try {
    const levels: BacklogLevel[] = [];
    for (const concurrency of deps.levels) {
      const worker = await deps.startWorker(concurrency);
      const groups = { api: [deps.api.pid], worker: [worker.pid], postgres: deps.backends, engine: deps.engine };
      await warmUp(deps, rows, concurrency, RUNNER);
      const raw = await drainRaw(deps, groups, concurrency);
      const berth = (await drainBerth(deps, rows, groups, concurrency, RUNNER)).figures;
      const level = { concurrency, raw, berth, throughputRatio: round(berth.perSecond / raw.perSecond, 3) };
      levels.push(level);
      deps.log(`  backlog of ${deps.tasks} at c=${concurrency}: raw ${raw.perSecond}/s, berth ${berth.perSecond}/s, ratio ${level.throughputRatio}`);
    }
    const workerConcurrency = deps.saturatedWorkerConcurrency;
    const worker = await deps.startWorker(workerConcurrency);
    const groups = { api: [deps.api.pid], worker: [worker.pid], postgres: deps.backends, engine: deps.engine };
    await warmUp(deps, rows, workerConcurrency, LIMITED_RUNNER);
    const raw = await drainRaw(deps, groups, RUNNER_LIMIT);
    const drained = await drainBerth(deps, rows, groups, workerConcurrency, LIMITED_RUNNER);
    const saturated = {
      runnerConcurrency: RUNNER_LIMIT, workerConcurrency, raw, berth: drained.figures,
      throughputRatio: round(drained.figures.perSecond / raw.perSecond, 3), maxRunning: drained.maxRunning,
    };
    deps.log(`  backlog of ${deps.tasks} on a runner limited to ${RUNNER_LIMIT} (worker c=${workerConcurrency}): raw c=${RUNNER_LIMIT} ` +
      `${raw.perSecond}/s, berth ${drained.figures.perSecond}/s, ratio ${saturated.throughputRatio}, at most ${drained.maxRunning} running; ` +
      `worker ${drained.figures.cpuMsPerTask['worker']} ms, postgres ${drained.figures.cpuMsPerTask['postgres']} ms CPU per task`);
    return { tasks: deps.tasks, levels, saturated };
  } finally {
    await rows.end();
  }
}

type Groups = Readonly<Record<string, PidSource>>;

async function drainRaw(deps: BacklogDeps, groups: Groups, concurrency: number): Promise<DrainFigures> {
  const before = await snapshot(groups);
  const run = await runLoad(deps.tasks, concurrency, (i) => runRawChecked(deps.target, taskInput(i)));
  return figures(deps.tasks, concurrency, run.elapsedMs, usageBetween(before, await snapshot(groups)));
}

async function drainBerth(
  deps: BacklogDeps, rows: pg.Client, groups: Groups, concurrency: number, runner: string,
): Promise<{ figures: DrainFigures; maxRunning: number }> {
  const before = await snapshot(groups);
  const submittedAt = Date.now();
  const ids = await submitBatch(deps.client, runner, deps.tasks);
  const { lastFinishedAt, maxRunning } = await waitUntilFinal(rows, ids);
  const cpu = usageBetween(before, await snapshot(groups));
  await checkOutputs(rows, ids);
  return { figures: figures(deps.tasks, concurrency, lastFinishedAt - submittedAt, cpu), maxRunning };
}

/** A few tasks on each path first, so neither pays for a cold engine, worker or API. */
async function warmUp(deps: BacklogDeps, rows: pg.Client, concurrency: number, runner: string): Promise<void> {
  const count = warmUpTasks(concurrency);
  await runLoad(count, concurrency, (i) => runRawChecked(deps.target, taskInput(i)));
  await waitUntilFinal(rows, await submitBatch(deps.client, runner, count));
}

async function submitBatch(client: BenchClient, runner: string, count: number): Promise<string[]> {
  const tasks = Array.from({ length: count }, (_, i) => ({ runner, input: taskInput(i) }));
  const response = await client.request('POST', '/tasks/batch', { tasks });
  if (response.status !== 202 || response.body?.tasks?.length !== count) {
    throw new Error(`POST /tasks/batch: HTTP ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`);
  }
  return (response.body.tasks as { id: string }[]).map((task) => task.id);
}

/** Polls the task rows until all are final; the last finished_at (ms since the epoch) and the most seen running. */
async function waitUntilFinal(rows: pg.Client, ids: readonly string[]): Promise<{ lastFinishedAt: number; maxRunning: number }> {
  const deadline = Date.now() + 10 * 60_000;
  let maxRunning = 0;
  for (;;) {
    const { rows: [row] } = await rows.query<{ done: string; running: string; last: string | null }>(
      `select count(*) filter (where finished_at is not null) as done, count(*) filter (where status = 'running') as running,
              extract(epoch from max(finished_at)) * 1000 as last
         from berth.tasks where id = any($1::uuid[])`, [ids]);
    maxRunning = Math.max(maxRunning, Number(row!.running));
    if (Number(row!.done) === ids.length) return { lastFinishedAt: Number(row!.last), maxRunning };
    if (Date.now() > deadline) throw new Error(`backlog: ${row!.done} of ${ids.length} tasks final after 10 minutes`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Every task succeeded with its input echoed back: a drain that fails tasks fast is not a result. */
async function checkOutputs(rows: pg.Client, ids: readonly string[]): Promise<void> {
  const { rows: [row] } = await rows.query<{ good: string }>(
    `select count(*) as good from berth.tasks
      where id = any($1::uuid[]) and status = 'succeeded' and output::jsonb = input::jsonb`, [ids]);
  if (Number(row!.good) !== ids.length) {
    const { rows: bad } = await rows.query(`select id, status, error_code, error_message from berth.tasks
      where id = any($1::uuid[]) and not (status = 'succeeded' and output::jsonb = input::jsonb) limit 3`, [ids]);
    throw new Error(`backlog: ${ids.length - Number(row!.good)} of ${ids.length} tasks did not succeed with their input echoed: ${JSON.stringify(bad)}`);
  }
}

function figures(tasks: number, concurrency: number, elapsedMs: number, cpu: CpuUsage): DrainFigures {
  return {
    tasks, concurrency, elapsedMs: Math.round(elapsedMs), perSecond: round((tasks * 1000) / elapsedMs, 2), cpu,
    cpuMsPerTask: Object.fromEntries(Object.entries(cpu.cpuMs).map(([k, v]) => [k, round(v / tasks, 1)])),
  };
}
