/**
 * SQL for berth.task_log_chunks: stderr as it is written, per attempt, in order. Live readers
 * follow it by sequence number; a finished attempt whose log outgrew the limit keeps its tail only.
 */
import { prepared, type Queryable } from '../db.ts';

export async function appendLog(db: Queryable, taskId: string, attempt: number, content: Buffer): Promise<void> {
  await db.query(prepared(`insert into berth.task_log_chunks (task_id, attempt, content) values ($1, $2, $3)`, [taskId, attempt, content]));
}

/** Replaces everything stored for the attempt with `content` (the bounded tail). */
export async function replaceLog(db: Queryable, taskId: string, attempt: number, content: Buffer): Promise<void> {
  await db.query(prepared(
    `with gone as (delete from berth.task_log_chunks where task_id = $1 and attempt = $2)
     insert into berth.task_log_chunks (task_id, attempt, content) select $1, $2, $3::bytea where octet_length($3::bytea) > 0`,
    [taskId, attempt, content],
  ));
}

export interface LogChunk {
  readonly seq: number;
  readonly content: Buffer;
}

/** The attempt's chunks after `afterSeq`, in order. */
export async function readLog(db: Queryable, taskId: string, attempt: number, afterSeq: number): Promise<LogChunk[]> {
  const { rows } = await db.query<{ seq: string; content: Buffer }>(
    `select seq, content from berth.task_log_chunks where task_id = $1 and attempt = $2 and seq > $3 order by seq`,
    [taskId, attempt, afterSeq],
  );
  return rows.map((r) => ({ seq: Number(r.seq), content: r.content }));
}
