/**
 * The `schedules:` section of the runners file, resolved on top of the shape check
 * (runner-config-schema.ts): each cron expression parsed in its time zone (cron.ts), the runner or
 * workflow it starts checked against those sections, and its input against that target's
 * input_schema, so that a schedule whose every start would be refused is refused at start-up.
 */
import { CronError, isTimeZone, parseCron, type CronClock } from '../cron.ts';
import { pointerTokens } from '../json-pointer.ts';
import { checkName } from './config-names.ts';
import { deepFreeze } from './input-schema.ts';
import { isMapping, type Mapping, type ProblemReporter } from './runner-config-schema.ts';
import type { Runner, Schedule, Workflow } from './runner.ts';
import { resolveTarget } from './webhook-config.ts';

export interface ScheduleContext extends ProblemReporter {
  /** Whether a leading seconds field is allowed: a test hook (BERTH_TEST_CRON_SECONDS). */
  readonly cronSeconds: boolean;
}

/** What a schedule may start. */
export interface ScheduleTargets {
  readonly runners: ReadonlyMap<string, Runner>;
  readonly workflows: ReadonlyMap<string, Workflow>;
}

/** Every schedule is checked, even one with problems, so that all of a file's problems surface. */
export function resolveSchedules(section: unknown, targets: ScheduleTargets, context: ScheduleContext): Map<string, Schedule> {
  const schedules = new Map<string, Schedule>();
  if (!isMapping(section)) return schedules;
  for (const [name, entry] of Object.entries(section)) {
    checkName('schedule name', name, ['schedules', name], context);
    // An entry that is not a mapping was reported by the shape check.
    const schedule = isMapping(entry) ? resolveSchedule(name, entry, targets, context) : undefined;
    if (schedule !== undefined) schedules.set(name, schedule);
  }
  return schedules;
}

/** Undefined when the entry has no clock; the file then has a problem and is refused anyway. */
function resolveSchedule(name: string, entry: Mapping, targets: ScheduleTargets, context: ScheduleContext): Schedule | undefined {
  const at = (...keys: string[]) => ['schedules', name, ...keys];
  const timezone = typeof entry['timezone'] === 'string' ? entry['timezone'] : 'UTC';
  const clock = resolveClock(entry['cron'], timezone, at, context);
  const target = resolveTarget(entry, { runner: new Set(targets.runners.keys()), workflow: new Set(targets.workflows.keys()) }, at, context, 'what it starts');
  const input = deepFreeze(entry['input'] ?? null);
  const validateInput = (target.kind === 'runner' ? targets.runners : targets.workflows).get(target.name)?.validateInput;
  // Violations are at /input/...: the schedule's own input key.
  for (const violation of validateInput?.(input) ?? []) context.report(at(...pointerTokens(violation.path)), violation.message);
  if (clock === undefined) return undefined;
  return Object.freeze({
    name,
    cron: clock.expression,
    timezone,
    clock,
    target,
    input,
    overlap: entry['overlap'] === 'allow' ? 'allow' : 'skip',
    missed: entry['missed'] === 'once' ? 'once' : 'skip',
  });
}

/** An unknown zone is reported at timezone; the expression is then still checked, in UTC. */
function resolveClock(cron: unknown, timezone: string, at: (...keys: string[]) => string[], context: ScheduleContext): CronClock | undefined {
  const known = isTimeZone(timezone);
  // An empty name was reported by the shape check.
  if (!known && timezone !== '') context.report(at('timezone'), `unknown time zone '${timezone}': use an IANA name such as Europe/Berlin, or UTC`);
  if (typeof cron !== 'string') return undefined;
  try {
    const clock = parseCron(cron, known ? timezone : 'UTC', { seconds: context.cronSeconds });
    return known ? clock : undefined;
  } catch (error) {
    if (!(error instanceof CronError)) throw error;
    context.report(at('cron'), error.message);
    return undefined;
  }
}
