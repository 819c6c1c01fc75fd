/**
 * Phase 3: ingestion only, with no worker running. POST /tasks from many keep-alive connections
 * (each 202 means the task is committed), then POST /tasks/batch with 1,000 tasks per request.
 * Two reference points bound what the API process itself can do: an unknown runner (400, decided
 * before any database work) at the same concurrency, and the CPU each party spends per submission.
 */
import { snapshot, usageBetween, type CpuUsage, type PidSource } from './cpu-meter.ts';
import type { BerthChild } from './berth-process.ts';
import type { BenchClient } from './http-client.ts';
import { perSecond, round, runLoad, summarise, taskInput, type LatencySummary } from './load.ts';

export interface SubmissionResult {
  readonly single: { inFlight: number; requests: number; perSecond: number; latency: LatencySummary; cpu: CpuUsage; cpuMsPerTask: Record<string, number> };
  readonly batch: { inFlight: number; requests: number; tasksPerRequest: number; tasksPerSecond: number; latency: LatencySummary; cpu: CpuUsage };
  /** Requests per second the API answers without touching the database (unknown runner → 400). */
  readonly rejectedBeforeDatabasePerSecond: number;
}

export interface SubmissionDeps {
  /** The PostgreSQL backends of the bench database. */
  readonly backends: PidSource;
  readonly client: BenchClient;
  readonly api: BerthChild;
  readonly inFlight: number;
  readonly singleRequests: number;
  readonly batchRequests: number;
  readonly batchInFlight: number;
  readonly log: (line: string) => void;
}

const BATCH_SIZE = 1000;

export async function runSubmission(deps: SubmissionDeps): Promise<SubmissionResult> {
  const { client } = deps;
  const submit = async (i: number): Promise<void> => {
    const response = await client.request('POST', '/tasks', { runner: 'echo', input: taskInput(i) });
    if (response.status !== 202) throw new Error(`POST /tasks: HTTP ${response.status} ${JSON.stringify(response.body)}`);
  };
  const rejected = async (i: number): Promise<void> => {
    const response = await client.request('POST', '/tasks', { runner: 'no-such-runner', input: taskInput(i) });
    if (response.status !== 400) throw new Error(`POST /tasks (unknown runner): HTTP ${response.status}`);
  };
  const batch = Array.from({ length: BATCH_SIZE }, (_, i) => ({ runner: 'echo', input: taskInput(i) }));
  const submitBatch = async (): Promise<void> => {
    const response = await client.request('POST', '/tasks/batch', { tasks: batch });
    if (response.status !== 202 || response.body?.tasks?.length !== BATCH_SIZE) {
      throw new Error(`POST /tasks/batch: HTTP ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`);
    }
  };

  await runLoad(Math.min(2000, deps.singleRequests), deps.inFlight, submit);
  const groups = { api: [deps.api.pid], postgres: deps.backends };
  let before = await snapshot(groups);
  const single = await runLoad(deps.singleRequests, deps.inFlight, submit);
  const singleCpu = usageBetween(before, await snapshot(groups));
  deps.log(`  POST /tasks: ${perSecond(single)}/s`);

  await runLoad(Math.min(2000, deps.singleRequests), deps.inFlight, rejected);
  const reject = await runLoad(deps.singleRequests, deps.inFlight, rejected);
  deps.log(`  POST /tasks, unknown runner (no database work): ${perSecond(reject)}/s`);

  await runLoad(3, 1, submitBatch);
  before = await snapshot(groups);
  const batches = await runLoad(deps.batchRequests, deps.batchInFlight, submitBatch);
  const batchCpu = usageBetween(before, await snapshot(groups));
  deps.log(`  POST /tasks/batch: ${perSecond(batches, deps.batchRequests * BATCH_SIZE)} tasks/s`);

  return {
    single: {
      inFlight: deps.inFlight, requests: deps.singleRequests, perSecond: perSecond(single), latency: summarise(single.latenciesMs), cpu: singleCpu,
      cpuMsPerTask: Object.fromEntries(Object.entries(singleCpu.cpuMs).map(([k, v]) => [k, round(v / deps.singleRequests, 3)])),
    },
    batch: {
      inFlight: deps.batchInFlight, requests: deps.batchRequests, tasksPerRequest: BATCH_SIZE,
      tasksPerSecond: perSecond(batches, deps.batchRequests * BATCH_SIZE), latency: summarise(batches.latenciesMs), cpu: batchCpu,
    },
    rejectedBeforeDatabasePerSecond: perSecond(reject),
  };
}
