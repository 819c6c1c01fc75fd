/**
 * The shapes of tasks over the API. One TypeBox schema per shape: routes validate with them,
 * OpenAPI is generated from them, and the SDK's types derive from them.
 *
 * Glossary
 * - runner: a named container recipe from the YAML config (image, command, limits, input schema).
 * - task: one request to run a runner with an input; Berth's record of it, in berth.tasks.
 * - attempt: one execution of a task in one fresh container; `attempts` counts them.
 * - job: pg-boss's transport record that hands a task id to a worker; never shown to clients.
 */
import { Type, type Static } from 'typebox';

export const TaskStatus = Type.Union(
  [Type.Literal('queued'), Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('cancelled')],
  { description: 'queued → running → succeeded | failed; cancelled ends a task from any non-final state' },
);
export type TaskStatus = Static<typeof TaskStatus>;

export const TaskErrorCode = Type.Union([
  Type.Literal('nonzero_exit'), Type.Literal('timeout'), Type.Literal('invalid_output'),
  Type.Literal('output_too_large'), Type.Literal('engine_error'),
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

export const Task = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    runner: Type.String(),
    status: TaskStatus,
    input: Type.Unknown({ description: 'The JSON input, as submitted' }),
    output: Type.Unknown({ description: 'The parsed stdout (json runners) or the raw stdout (text runners); null until succeeded' }),
    error: Type.Union([TaskError, Type.Null()]),
    exitCode: Type.Union([Type.Integer(), Type.Null()]),
    attempts: Type.Integer({ minimum: 0 }),
    createdAt: Timestamp,
    startedAt: NullableTimestamp,
    finishedAt: NullableTimestamp,
  },
  { additionalProperties: false },
);
export type Task = Static<typeof Task>;

export const TaskSubmission = Type.Object(
  {
    runner: Type.String({ minLength: 1, description: 'Name of a configured runner' }),
    input: Type.Optional(Type.Unknown({ description: 'Any JSON value; written to the container\'s stdin. Defaults to null.' })),
  },
  { additionalProperties: false },
);
export type TaskSubmission = Static<typeof TaskSubmission>;

export const TaskIdParams = Type.Object({ id: Type.String() }, { additionalProperties: false });
export type TaskIdParams = Static<typeof TaskIdParams>;
