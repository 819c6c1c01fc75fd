/**
 * #/schedules: each schedule's clock, its next ticks and its last one (with what it started),
 * Pause or Resume, and Trigger now (all three need an admin key), refreshed every few seconds.
 */
import type { Schedule } from '../client/index.ts';
import { button, el, hrefOf, statusBadge, table, timeText, type Child } from './dom.ts';
import { repeat, type ViewContext } from './view.ts';

const REFRESH_MS = 5_000;

export async function schedulesPage(context: ViewContext): Promise<void> {
  const list = el('div', { id: 'schedules-list' }, el('p', { class: 'muted' }, 'Loading…'));
  context.root.replaceChildren(el('h1', {}, 'Schedules'), list);
  const refresh = async (): Promise<void> => {
    const schedules = await context.client.schedules.list({ signal: context.signal });
    list.replaceChildren(schedules.length === 0 ? el('p', { class: 'muted' }, 'No schedules.')
      : table(['Schedule', 'Clock', 'Starts', 'Next ticks', 'Last tick', ''], schedules.map((schedule) => row(context, schedule, refresh))));
  };
  await repeat(context, REFRESH_MS, refresh);
}

function row(context: ViewContext, schedule: Schedule, refresh: () => Promise<void>): Child[] {
  const toggle = (call: Promise<unknown>): void => { call.then(refresh).catch((error: unknown) => context.report(error)); };
  const { schedules } = context.client;
  return [
    el('span', {}, el('strong', {}, schedule.name), schedule.paused ? el('span', { class: 'muted' }, ' (paused)') : null),
    el('span', { class: 'mono' }, `${schedule.cron} ${schedule.timezone}`),
    schedule.runner !== null ? `task of ${schedule.runner}` : `run of ${schedule.workflow ?? '?'}`,
    el('span', {}, ...schedule.nextTicks.slice(0, 3).flatMap((tick, index) => [index === 0 ? '' : el('br'), tick.local])),
    lastTick(schedule),
    el('span', { class: 'actions' },
      schedule.paused
        ? button('Resume', () => toggle(schedules.resume(schedule.name, { signal: context.signal })), { 'data-resume': schedule.name })
        : button('Pause', () => toggle(schedules.pause(schedule.name, { signal: context.signal })), { 'data-pause': schedule.name }),
      // One run now, outside the clock; then to what it started.
      button('Trigger now', () => {
        schedules.trigger(schedule.name, { signal: context.signal }).then((started) => {
          if (started.taskId !== null) context.navigate(hrefOf('tasks', started.taskId));
          else if (started.workflowId !== null) context.navigate(hrefOf('runs', started.workflowId));
        }, (error: unknown) => context.report(error));
      }, { 'data-trigger': schedule.name })),
  ];
}

function lastTick(schedule: Schedule): Child {
  const tick = schedule.lastTick;
  if (tick === null) return 'none yet';
  const started = tick.taskId !== null ? el('a', { href: hrefOf('tasks', tick.taskId) }, 'task')
    : tick.workflowId !== null ? el('a', { href: hrefOf('runs', tick.workflowId) }, 'run') : null;
  return el('span', {}, `${timeText(tick.scheduledFor)} (${tick.source}): ${tick.outcome} `,
    started, tick.status === null ? null : el('span', {}, ' ', statusBadge(tick.status)),
    tick.message === null ? null : el('span', { class: 'muted' }, ` ${tick.message}`));
}
