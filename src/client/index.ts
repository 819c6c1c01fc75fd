/**
 * Berth's TypeScript SDK, exported as `berth/client`. Runs on the platform's fetch (Node >= 22,
 * browsers) with no dependency: everything here imports, outside src/client/, only types and
 * files of plain data (a rule in test/unit/dependency-rule.test.ts).
 *
 *   const berth = createClient({ baseUrl: 'http://127.0.0.1:3000', apiKey: process.env.BERTH_API_KEY });
 *   const task = await berth.tasks.run('echo', { hello: 'world' }, { timeout: 60 });
 *   for await (const chunk of berth.tasks.logs(task.id, { follow: true })) process.stderr.write(chunk);
 *
 * Durations are in seconds, as in the API. Every failure is a BerthError with the API's `code`.
 */
import { runnersClient, schedulesClient, type RunnersClient, type SchedulesClient } from './catalog-client.ts';
import { tasksClient, type TasksClient } from './tasks-client.ts';
import { createTransport, type TransportOptions } from './transport.ts';
import { workflowsClient, type WorkflowsClient } from './workflows-client.ts';

export { BerthError, isBerthError, type BerthErrorCode, type ClientErrorCode } from './berth-error.ts';
export type { RunnerView, Schedule, ScheduleDetail, ScheduleTriggered, RunnersClient, SchedulesClient } from './catalog-client.ts';
export { isFinalTask, type LogOptions, type SubmitOptions, type Task, type TaskFilter, type TaskListItem, type TaskPage, type TasksClient } from './tasks-client.ts';
export type { FetchFunction, RetryPolicy } from './transport.ts';
export type { WaitOptions } from './waiting.ts';
export {
  isFinalRun, type WorkflowRun, type WorkflowRunFilter, type WorkflowRunListItem, type WorkflowRunPage, type WorkflowSubmitOptions, type WorkflowsClient,
} from './workflows-client.ts';

export type ClientOptions = TransportOptions;

export interface BerthClient {
  readonly tasks: TasksClient;
  readonly workflows: WorkflowsClient;
  readonly runners: RunnersClient;
  readonly schedules: SchedulesClient;
}

export function createClient(options: ClientOptions): BerthClient {
  const transport = createTransport(options);
  return Object.freeze({
    tasks: tasksClient(transport),
    workflows: workflowsClient(transport),
    runners: runnersClient(transport),
    schedules: schedulesClient(transport),
  });
}
