/**
 * The worker's schedule clock: takes due ticks (tasks/schedule-service.ts) just after every whole
 * second. Every worker runs one; a tick's row lock makes each tick one start however many run.
 */
import { isDatabaseUnavailable } from '../db.ts';
import type { Logger } from '../logger.ts';
import type { ScheduleService } from '../tasks/schedule-service.ts';

export interface ScheduleClock {
  /** Resolves once a pass in progress has ended. */
  stop(): Promise<void>;
}

// Just past the second, so a tick on a whole second (every cron tick) is due when the pass reads it.
const PAST_THE_SECOND_MS = 20;

export function startScheduleClock(deps: { schedules: ScheduleService; logger: Logger }): ScheduleClock {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> = Promise.resolve();

  const arm = (): void => {
    if (stopped) return;
    timer = setTimeout(() => { pass = tick(); }, 1000 - (Date.now() % 1000) + PAST_THE_SECOND_MS);
  };

  async function tick(): Promise<void> {
    try {
      await deps.schedules.tickDue();
    } catch (error) {
      // Ticks stay due in the database and are taken once it answers again.
      deps.logger[isDatabaseUnavailable(error) ? 'warn' : 'error']({ err: error }, 'taking due schedule ticks failed');
    } finally {
      arm();
    }
  }

  arm();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await pass;
    },
  };
}
