/**
 * Where one Berth task's time goes, read afterwards from the rows it left (task row and pg-boss job
 * row share the clock of the client, all on this machine):
 *   accept   client sends POST /tasks → the job row is created (in the submitting transaction)
 *   pickup   job created → a worker fetched it (pg-boss started_on)
 *   claim    fetched → the task row is claimed (queued → running)
 *   run      claimed → the result is written (container create … remove, inside the worker)
 *   answer   result written → the client has the final task (NOTIFY, re-read, HTTP response)
 */
import { queryBench } from './database.ts';
import type { BerthTaskTiming } from './http-client.ts';
import { summarise, type LatencySummary } from './load.ts';

export type LatencyBreakdown = Readonly<Record<'accept' | 'pickup' | 'claim' | 'run' | 'answer', LatencySummary>>;

interface Row {
  id: string;
  job_created: number;
  job_started: number;
  task_started: number;
  task_finished: number;
}

export async function latencyBreakdown(databaseUrl: string, timings: readonly BerthTaskTiming[]): Promise<LatencyBreakdown> {
  const rows = await queryBench<Row>(
    databaseUrl,
    `select t.id,
            extract(epoch from j.created_on) * 1000 as job_created, extract(epoch from j.started_on) * 1000 as job_started,
            extract(epoch from t.started_at) * 1000 as task_started, extract(epoch from t.finished_at) * 1000 as task_finished
       from berth.tasks t join pgboss.job j on j.name = 'berth-run-task' and (j.data ->> 'taskId')::uuid = t.id
      where t.id = any($1::uuid[])`,
    [timings.map((t) => t.id)],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  const parts = { accept: [] as number[], pickup: [] as number[], claim: [] as number[], run: [] as number[], answer: [] as number[] };
  for (const timing of timings) {
    const row = byId.get(timing.id);
    if (row === undefined) continue;
    parts.accept.push(Number(row.job_created) - timing.sentAt);
    parts.pickup.push(Number(row.job_started) - Number(row.job_created));
    parts.claim.push(Number(row.task_started) - Number(row.job_started));
    parts.run.push(Number(row.task_finished) - Number(row.task_started));
    parts.answer.push(timing.answeredAt - Number(row.task_finished));
  }
  return {
    accept: summarise(parts.accept), pickup: summarise(parts.pickup), claim: summarise(parts.claim),
    run: summarise(parts.run), answer: summarise(parts.answer),
  };
}
