/**
 * What the client commands show of tasks, runs, runners and schedules as text: a task or run as
 * labelled lines, lists as tables (terminal.ts decides between aligned and tab-separated).
 */
import type { RunnerView, Schedule, Task, TaskListItem, WorkflowRun, WorkflowRunListItem } from '../client/index.ts';
import { duration, formatTable, paintStatus, type Terminal } from './terminal.ts';

/** Labelled lines, the labels padded to one column; an empty value leaves its line out. */
function labelled(lines: readonly (readonly [string, string])[]): string {
  const shown = lines.filter(([, value]) => value !== '');
  const width = Math.max(...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `${label.padEnd(width)}  ${value}\n`).join('');
}

/** An output on one line: JSON (a text runner's string output quoted, so its newlines stay on the line). */
const oneLine = (value: unknown): string => JSON.stringify(value) ?? 'null';

export function formatTask(terminal: Terminal, task: Task): string {
  const took = duration(task.startedAt, task.finishedAt);
  return labelled([
    ['task', task.id],
    ['runner', task.runner],
    ['status', paintStatus(terminal, task.status)],
    ['attempts', `${task.attempts} of ${task.maxAttempts}`],
    ['created', task.createdAt],
    ['starts after', task.runAfter ?? ''],
    ['next attempt', task.nextAttemptAt ?? ''],
    ['started', task.startedAt ?? ''],
    ['finished', task.finishedAt === null ? '' : `${task.finishedAt} (${took})`],
    ['exit code', task.exitCode === null ? '' : String(task.exitCode)],
    ['workflow run', task.workflowId === null ? '' : `${task.workflowId} (step ${task.stepId})`],
    ['schedule', task.schedule ?? ''],
    ['error', task.error === null ? '' : `${task.error.code}: ${task.error.message}`],
    ['output', task.status === 'succeeded' ? oneLine(task.output) : ''],
  ]);
}

export function formatRun(terminal: Terminal, run: WorkflowRun): string {
  const head = labelled([
    ['run', run.id],
    ['workflow', run.workflow],
    ['status', paintStatus(terminal, run.status)],
    ['created', run.createdAt],
    ['finished', run.finishedAt ?? ''],
    ['schedule', run.schedule ?? ''],
    ['error', run.error === null ? '' : `step ${run.error.step}: ${run.error.code}: ${run.error.message}`],
    ['output', run.status === 'succeeded' ? oneLine(run.output) : ''],
  ]);
  const steps = formatTable(terminal, ['STEP', 'RUNNER', 'STATUS', 'TASKS'],
    run.steps.map((step) => [step.id, step.runner, paintStatus(terminal, step.status), step.taskIds.join(',')]));
  return `${head}${terminal.outIsTTY ? '\n' : ''}${steps}`;
}

export const listRows = {
  tasks: (terminal: Terminal, tasks: readonly TaskListItem[]): string =>
    formatTable(terminal, ['ID', 'RUNNER', 'STATUS', 'ATTEMPTS', 'CREATED', 'TOOK'], tasks.map((task) => [
      task.id, task.runner, paintStatus(terminal, task.status), String(task.attempts), task.createdAt, duration(task.startedAt, task.finishedAt),
    ])),

  runs: (terminal: Terminal, runs: readonly WorkflowRunListItem[]): string =>
    formatTable(terminal, ['ID', 'WORKFLOW', 'STATUS', 'CREATED', 'TOOK'], runs.map((run) => [
      run.id, run.workflow, paintStatus(terminal, run.status), run.createdAt, duration(run.createdAt, run.finishedAt),
    ])),

  runners: (terminal: Terminal, runners: readonly RunnerView[]): string =>
    formatTable(terminal, ['NAME', 'IMAGE', 'TIMEOUT', 'OUTPUT', 'INPUT SCHEMA'], runners.map((runner) => [
      runner.name, runner.image, `${runner.timeout}s`, runner.output, runner.input_schema === null ? 'any JSON' : 'yes',
    ])),

  schedules: (terminal: Terminal, schedules: readonly Schedule[]): string =>
    formatTable(terminal, ['NAME', 'CRON', 'TIMEZONE', 'STARTS', 'STATE', 'NEXT TICK', 'LAST TICK'], schedules.map((schedule) => [
      schedule.name, schedule.cron, schedule.timezone,
      schedule.runner === null ? `workflow ${schedule.workflow}` : `runner ${schedule.runner}`,
      schedule.paused ? 'paused' : 'active',
      schedule.paused ? '' : (schedule.nextTicks[0]?.utc ?? ''),
      schedule.lastTick === null ? '' : `${schedule.lastTick.scheduledFor} ${schedule.lastTick.outcome}`,
    ])),
};
