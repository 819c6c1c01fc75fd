/**
 * The shapes of tasks over the API. One TypeBox schema per shape: routes validate with them,
 * OpenAPI is generated from them, and the SDK's types derive from them.
 *
 * Glossary
 * - runner: a named container recipe from the YAML config (image, command, limits, input schema).
 * - task: one request to run a runner with an input; Berth's record of it, in berth.tasks.
 * - attempt: one execution of a task in one fresh container; `attempts` counts them.
 * - job: pg-boss's transport record that hands a task id to a worker; never shown to clients.
 *
 * While a retry waits for its delay the task is `queued` again, with `nextAttemptAt` set.
 */
import { Type, type Static, type TLiteral } from 'typebox';
import { TASK_STATUSES } from './task-status.ts';

export const TaskStatus = Type.Union(
  literals(TASK_STATUSES),
  { description: 'queued → running → succeeded | failed; cancelled ends a task from any non-final state' },
);
export type TaskStatus = Static<typeof TaskStatus>;

/** A schema literal per value, keeping each value's type (so the union derives from the data). */
export function literals<const T extends readonly string[]>(values: T): { -readonly [K in keyof T]: TLiteral<T[K]> } {
  return values.map((value) => Type.Literal(value)) as { -readonly [K in keyof T]: TLiteral<T[K]> };
}

export const TaskErrorCode = Type.Union([
  Type.Literal('nonzero_exit'), Type.Literal('timeout'), Type.Literal('invalid_output'),
  Type.Literal('output_too_large'), Type.Literal('engine_error'),
  Type.Literal('oom', { description: 'the kernel killed the container\'s program for exceeding the runner\'s memory limit' }),
  Type.Literal('invalid_input', { description: 'a workflow step\'s input did not match its runner\'s input_schema; no container ran' }),
]);
export type TaskErrorCode = Static<typeof TaskErrorCode>;

export const TaskError = Type.Object(
  {
    code: TaskErrorCode,
    message: Type.String(),
  },
  { additionalProperties: false },
);
export type TaskError = Static<typeof TaskError>;

const Timestamp = Type.String({ format: 'date-time' });
const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

/** Attempt outcomes: the task error codes, plus the two ways Berth itself ends an attempt. */
export const AttemptErrorCode = Type.Union([
  TaskErrorCode,
  Type.Literal('interrupted', { description: 'the worker shut down; the task was queued again without using a retry' }),
  Type.Literal('cancelled'),
]);
export type AttemptErrorCode = Static<typeof AttemptErrorCode>;

export const TaskAttempt = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1 }),
    startedAt: Timestamp,
    finishedAt: NullableTimestamp,
    exitCode: Type.Union([Type.Integer(), Type.Null()]),
    error: Type.Union([Type.Object({ code: AttemptErrorCode, message: Type.String() }, { additionalProperties: false }), Type.Null()]),
  },
  { additionalProperties: false },
);
export type TaskAttempt = Static<typeof TaskAttempt>;

export const CallbackDelivery = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1 }),
    attemptedAt: Timestamp,
    statusCode: Type.Union([Type.Integer(), Type.Null()], { description: 'The receiver\'s HTTP status; null when no answer came' }),
    error: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);

export const Task = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    runner: Type.String(),
    status: TaskStatus,
    input: Type.Unknown({ description: 'The JSON input, as submitted' }),
    output: Type.Unknown({ description: 'The parsed stdout (json runners) or the raw stdout (text runners); null until succeeded' }),
    error: Type.Union([TaskError, Type.Null()]),
    exitCode: Type.Union([Type.Integer(), Type.Null()]),
    attempts: Type.Integer({ minimum: 0, description: 'Attempts started so far' }),
    maxAttempts: Type.Integer({ minimum: 1, description: '1 + the runner\'s retry limit' }),
    priority: Type.Integer(),
    createdAt: Timestamp,
    runAfter: Type.Union([Timestamp, Type.Null()], { description: 'Requested earliest start (startAfter or delay)' }),
    nextAttemptAt: Type.Union([Timestamp, Type.Null()], { description: 'When a retry is waiting: its earliest start' }),
    startedAt: NullableTimestamp,
    finishedAt: NullableTimestamp,
    attemptHistory: Type.Array(TaskAttempt, { description: 'Every attempt, oldest first' }),
    callbackUrl: Type.Union([Type.String(), Type.Null()], { description: 'Where the task\'s end is reported' }),
    callbackDeliveries: Type.Array(CallbackDelivery, { description: 'Every attempt to deliver the callback, oldest first' }),
    workflowId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'The workflow run this task is a step of; null for a task of its own' }),
    stepId: Type.Union([Type.String(), Type.Null()], { description: 'Its step in that run' }),
    schedule: Type.Union([Type.String(), Type.Null()], { description: 'The schedule that started it; null for a task submitted otherwise' }),
    scheduledFor: Type.Union([Timestamp, Type.Null()], { description: 'The schedule\'s tick it was started for (a manual trigger: when it was triggered)' }),
    traceparent: Type.Union([Type.String(), Type.Null()], {
      description: 'The W3C traceparent header it was submitted with (a workflow step: its run\'s), passed to its container as TRACEPARENT ' +
        'and sent on its callbacks; null when none came or the header was invalid',
    }),
  },
  { additionalProperties: false },
);
export type Task = Static<typeof Task>;

const { input, output, attemptHistory, callbackDeliveries, ...summaryFields } = Task.properties;

/** A task in a listing: no input, output or histories, so a page costs little however large the tasks' outputs. */
export const TaskSummary = Type.Object(summaryFields, { additionalProperties: false });
export type TaskSummary = Static<typeof TaskSummary>;

/** In a page: a summary, or with `fields=full` the whole task. */
const TaskListItem = Type.Object({
  ...summaryFields,
  input: Type.Optional(input), output: Type.Optional(output),
  attemptHistory: Type.Optional(attemptHistory), callbackDeliveries: Type.Optional(callbackDeliveries),
}, { additionalProperties: false, description: 'Without fields=full: no input, output, attemptHistory or callbackDeliveries (read them at /tasks/{id})' });

/** The most bytes of inputs and outputs one page with fields=full carries; a page holds at least one task. */
export const FULL_PAGE_BYTES = 8 * 1024 * 1024;

export const TaskPage = Type.Object(
  {
    items: Type.Array(TaskListItem),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page' }),
  },
  { additionalProperties: false },
);
export type TaskPage = Static<typeof TaskPage>;

export const TaskListQuery = Type.Object(
  {
    runner: Type.Optional(Type.String({ minLength: 1 })),
    status: Type.Optional(TaskStatus),
    workflowId: Type.Optional(Type.String({ format: 'uuid', description: 'Only the tasks of this workflow run\'s steps' })),
    schedule: Type.Optional(Type.String({ minLength: 1, description: 'Only the tasks this schedule started' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 1 })),
    fields: Type.Optional(Type.Union([Type.Literal('summary'), Type.Literal('full')], {
      default: 'summary',
      description: 'summary (default): each task without input, output and histories. full: whole tasks, the page then ' +
        `ending early once their inputs and outputs pass ${FULL_PAGE_BYTES / 1024 / 1024} MiB (nextCursor goes on from there)`,
    })),
  },
  { additionalProperties: false },
);
export type TaskListQuery = Static<typeof TaskListQuery>;

/** Longest a request may wait for a task to finish. */
export const MAX_WAIT_SECONDS = 120;

export const TaskWaitQuery = Type.Object(
  {
    wait: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_WAIT_SECONDS, description: 'Seconds to hold the request until the task finishes' })),
  },
  { additionalProperties: false },
);

export const TaskLogsQuery = Type.Object(
  {
    follow: Type.Optional(Type.Boolean({ description: 'Stream stderr as it is written until the task ends' })),
    attempt: Type.Optional(Type.Integer({ minimum: 1, description: 'Which attempt\'s log; default the latest' })),
  },
  { additionalProperties: false },
);

/** Where the end of a task (or a workflow run) is POSTed. */
export const CallbackUrl = (what: string) => Type.String({
  format: 'uri', maxLength: 2048,
  description: `POSTed the finished ${what}, signed per Standard Webhooks with the secret of the callbacks endpoint it falls under ` +
    '(one under none is refused); must resolve to a public address unless allowed in callbacks.allow',
});

export const TaskSubmission = Type.Object(
  {
    runner: Type.String({ minLength: 1, description: 'Name of a configured runner' }),
    input: Type.Optional(Type.Unknown({ description: 'Any JSON value; written to the container\'s stdin. Defaults to null.' })),
    priority: Type.Optional(Type.Integer({ minimum: -1000, maximum: 1000, description: 'Higher runs first; default 0' })),
    startAfter: Type.Optional(Type.String({ format: 'date-time', description: 'Do not start before this time (ISO 8601)' })),
    delay: Type.Optional(Type.Number({ minimum: 0, maximum: 31_536_000, description: 'Do not start before this many seconds from now' })),
    callbackUrl: Type.Optional(CallbackUrl('task')),
  },
  { additionalProperties: false },
);
export type TaskSubmission = Static<typeof TaskSubmission>;

/** Most tasks one batch may hold. */
export const MAX_BATCH = 1000;

export const TaskBatch = Type.Object(
  { tasks: Type.Array(TaskSubmission, { minItems: 1, maxItems: MAX_BATCH }) },
  { additionalProperties: false },
);
export type TaskBatch = Static<typeof TaskBatch>;

export const TaskBatchResult = Type.Object({ tasks: Type.Array(Task) }, { additionalProperties: false });

export const TaskIdParams = Type.Object({ id: Type.String() }, { additionalProperties: false });
export type TaskIdParams = Static<typeof TaskIdParams>;
