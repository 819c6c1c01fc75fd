/**
 * The shapes of workflow runs over the API, one TypeBox schema each (validation, OpenAPI, SDK).
 *
 * Glossary
 * - workflow: named steps of runners, declared in the runners file under `workflows:`.
 * - run: one submission of a workflow with an input; its id is what /workflows/{id} names.
 * - step: one node of the workflow; its tasks are ordinary tasks (one, or one per for_each element),
 *   visible at /tasks/{id} with their workflowId and stepId.
 */
import { Type, type Static } from 'typebox';
import { CallbackUrl, FULL_PAGE_BYTES, literals, MAX_WAIT_SECONDS } from './task-schemas.ts';
import { RUN_STATUSES } from './task-status.ts';

const Timestamp = Type.String({ format: 'date-time' });

export const RunStatus = Type.Union(
  literals(RUN_STATUSES),
  { description: 'running until every step is final; then succeeded if every step nothing needs succeeded, else failed (or cancelled)' },
);
export type RunStatus = Static<typeof RunStatus>;

export const StepStatus = Type.Union([
  Type.Literal('pending', { description: 'waiting for its parents' }),
  Type.Literal('queued'), Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('cancelled'),
  Type.Literal('skipped', { description: 'its `when` was not met by its parents' }),
]);
export type StepStatus = Static<typeof StepStatus>;

export const WorkflowStepView = Type.Object(
  {
    id: Type.String(),
    runner: Type.String(),
    needs: Type.Array(Type.String()),
    status: StepStatus,
    taskIds: Type.Array(Type.String({ format: 'uuid' }), { description: 'Its tasks in this run (for_each: in element order); after a retry, the newest' }),
    error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: false }), Type.Null()], {
      description: 'Why it failed or was skipped',
    }),
  },
  { additionalProperties: false },
);

export const WorkflowRun = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    workflow: Type.String(),
    status: RunStatus,
    input: Type.Unknown({ description: 'The JSON input, as submitted' }),
    output: Type.Unknown({ description: 'Once final: {"<step nothing needs>": <its output>}; null before' }),
    error: Type.Union([
      Type.Object({ step: Type.String(), code: Type.String(), message: Type.String() }, { additionalProperties: false }),
      Type.Null(),
    ], { description: 'For a failed run: the first step that failed' }),
    callbackUrl: Type.Union([Type.String(), Type.Null()]),
    createdAt: Timestamp,
    finishedAt: Type.Union([Timestamp, Type.Null()]),
    steps: Type.Array(WorkflowStepView, { description: 'Every step, in dependency order' }),
    schedule: Type.Union([Type.String(), Type.Null()], { description: 'The schedule that started it; null for a run submitted otherwise' }),
    scheduledFor: Type.Union([Timestamp, Type.Null()], { description: 'The schedule\'s tick it was started for (a manual trigger: when it was triggered)' }),
    traceparent: Type.Union([Type.String(), Type.Null()], {
      description: 'The W3C traceparent header it was submitted with, inherited by its step tasks and sent on its callbacks; null when none came or it was invalid',
    }),
  },
  { additionalProperties: false },
);
export type WorkflowRun = Static<typeof WorkflowRun>;

const { input, output, steps, ...summaryFields } = WorkflowRun.properties;

/** A run in a listing: no input, output or steps, so a page costs little however large the runs. */
export const WorkflowRunSummary = Type.Object(summaryFields, { additionalProperties: false });
export type WorkflowRunSummary = Static<typeof WorkflowRunSummary>;

/** In a page: a summary, or with `fields=full` the whole run. */
const WorkflowRunListItem = Type.Object({
  ...summaryFields, input: Type.Optional(input), output: Type.Optional(output), steps: Type.Optional(steps),
}, { additionalProperties: false, description: 'Without fields=full: no input, output or steps (read them at /workflows/{id})' });

export const WorkflowSubmission = Type.Object(
  {
    workflow: Type.String({ minLength: 1, description: 'Name of a configured workflow' }),
    input: Type.Optional(Type.Unknown({ description: 'Any JSON value; every step sees it as /input. Defaults to null.' })),
    callbackUrl: Type.Optional(CallbackUrl('run')),
  },
  { additionalProperties: false },
);
export type WorkflowSubmission = Static<typeof WorkflowSubmission>;

export const WorkflowRunPage = Type.Object(
  {
    items: Type.Array(WorkflowRunListItem),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page' }),
  },
  { additionalProperties: false },
);
export type WorkflowRunPage = Static<typeof WorkflowRunPage>;

export const WorkflowRunListQuery = Type.Object(
  {
    workflow: Type.Optional(Type.String({ minLength: 1 })),
    status: Type.Optional(RunStatus),
    schedule: Type.Optional(Type.String({ minLength: 1, description: 'Only the runs this schedule started' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 1 })),
    fields: Type.Optional(Type.Union([Type.Literal('summary'), Type.Literal('full')], {
      default: 'summary',
      description: 'summary (default): each run without input, output and steps. full: whole runs, the page then ending early ' +
        `once their inputs and outputs pass ${FULL_PAGE_BYTES / 1024 / 1024} MiB (nextCursor goes on from there)`,
    })),
  },
  { additionalProperties: false },
);
export type WorkflowRunListQuery = Static<typeof WorkflowRunListQuery>;

export const WorkflowWaitQuery = Type.Object(
  {
    wait: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_WAIT_SECONDS, description: 'Seconds to hold the request until the run is final' })),
  },
  { additionalProperties: false },
);

export const WorkflowRunIdParams = Type.Object({ id: Type.String() }, { additionalProperties: false });
