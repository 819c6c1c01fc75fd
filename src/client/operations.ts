/**
 * Every API operation the SDK calls, by method and path as the OpenAPI document writes them.
 * A unit test holds this table against openapi/openapi.json both ways: each entry exists there
 * with these query parameters, and each operation there (but the webhook, health and metrics
 * routes, which are not for SDK users) is here.
 */
export interface Operation {
  readonly name: string;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** The query parameters the SDK may send. */
  readonly query: readonly string[];
}

function op(name: string, method: Operation['method'], path: string, query: readonly string[] = []): Operation {
  return { name, method, path, query };
}

export const OPERATIONS = {
  submitTask: op('tasks.submit', 'POST', '/tasks'),
  submitBatch: op('tasks.submitBatch', 'POST', '/tasks/batch'),
  listTasks: op('tasks.list', 'GET', '/tasks', ['runner', 'status', 'workflowId', 'schedule', 'limit', 'cursor', 'fields']),
  getTask: op('tasks.get', 'GET', '/tasks/{id}', ['wait']),
  cancelTask: op('tasks.cancel', 'POST', '/tasks/{id}/cancel'),
  taskLogs: op('tasks.logs', 'GET', '/tasks/{id}/logs', ['follow', 'attempt']),
  submitWorkflow: op('workflows.submit', 'POST', '/workflows'),
  listWorkflowRuns: op('workflows.list', 'GET', '/workflows', ['workflow', 'status', 'schedule', 'limit', 'cursor', 'fields']),
  getWorkflowRun: op('workflows.get', 'GET', '/workflows/{id}', ['wait']),
  cancelWorkflowRun: op('workflows.cancel', 'POST', '/workflows/{id}/cancel'),
  retryWorkflowRun: op('workflows.retry', 'POST', '/workflows/{id}/retry'),
  listRunners: op('runners.list', 'GET', '/runners'),
  getRunner: op('runners.get', 'GET', '/runners/{name}'),
  listSchedules: op('schedules.list', 'GET', '/schedules'),
  getSchedule: op('schedules.get', 'GET', '/schedules/{name}'),
  pauseSchedule: op('schedules.pause', 'POST', '/schedules/{name}/pause'),
  resumeSchedule: op('schedules.resume', 'POST', '/schedules/{name}/resume'),
  triggerSchedule: op('schedules.trigger', 'POST', '/schedules/{name}/trigger'),
} as const satisfies Record<string, Operation>;
