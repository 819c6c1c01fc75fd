/**
 * client.runners and client.schedules: what the runners file declares, as the API shows it
 * (runners without their env; schedules with their next and latest ticks).
 */
import type { RunnerView } from '../runners/runner-schemas.ts';
import type { Schedule, ScheduleDetail, ScheduleList, ScheduleTriggered } from '../tasks/schedule-schemas.ts';
import { OPERATIONS, type Operation } from './operations.ts';
import type { Transport } from './transport.ts';

export type { RunnerView, Schedule, ScheduleDetail, ScheduleTriggered };

type Signal = { signal?: AbortSignal };

export interface RunnersClient {
  list(options?: Signal): Promise<RunnerView[]>;
  get(name: string, options?: Signal): Promise<RunnerView>;
}

export interface SchedulesClient {
  list(options?: Signal): Promise<Schedule[]>;
  get(name: string, options?: Signal): Promise<ScheduleDetail>;
  /** Needs an admin key. Pausing a paused schedule changes nothing. */
  pause(name: string, options?: Signal): Promise<ScheduleDetail>;
  resume(name: string, options?: Signal): Promise<ScheduleDetail>;
  /** Starts one run of the schedule now; its task or workflow run id is in the answer. */
  trigger(name: string, options?: Signal): Promise<ScheduleTriggered>;
}

export function runnersClient(transport: Transport): RunnersClient {
  return {
    list: async (options = {}) => (await transport.json<RunnerView[]>(OPERATIONS.listRunners, { signal: options.signal, idempotent: true })).body,
    get: async (name, options = {}) =>
      (await transport.json<RunnerView>(OPERATIONS.getRunner, { params: { name }, signal: options.signal, idempotent: true })).body,
  };
}

export function schedulesClient(transport: Transport): SchedulesClient {
  // Pause and resume set a state, so repeating them is harmless; a trigger starts work, so it is sent once.
  const call = async <T>(operation: Operation, name: string, options: Signal, idempotent: boolean): Promise<T> =>
    (await transport.json<T>(operation, { params: { name }, signal: options.signal, idempotent })).body;
  return {
    list: async (options = {}) => (await transport.json<ScheduleList>(OPERATIONS.listSchedules, { signal: options.signal, idempotent: true })).body.items,
    get: (name, options = {}) => call<ScheduleDetail>(OPERATIONS.getSchedule, name, options, true),
    pause: (name, options = {}) => call<ScheduleDetail>(OPERATIONS.pauseSchedule, name, options, true),
    resume: (name, options = {}) => call<ScheduleDetail>(OPERATIONS.resumeSchedule, name, options, true),
    trigger: (name, options = {}) => call<ScheduleTriggered>(OPERATIONS.triggerSchedule, name, options, false),
  };
}
