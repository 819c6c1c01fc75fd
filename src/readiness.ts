/**
 * Readiness: can this process do its job right now? The database and the container engine must
 * both answer within a short deadline. A failure names what is down.
 */
import { AppError } from './errors.ts';
import type { Pool } from './db.ts';
import type { ContainerEngine } from './engine/container-engine.ts';

const CHECK_TIMEOUT_MS = 2_000;

export type ReadinessCheck = () => Promise<void>;

async function withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `engine` undefined: this process does not use the engine, so its readiness does not depend on it.
 * The answer names what is down and no more: the raw errors (socket paths, addresses) are the
 * failure's cause, which the error handler logs.
 */
export function createReadinessCheck(deps: { pool: Pool; engine: ContainerEngine | undefined }): ReadinessCheck {
  return async () => {
    const [database, engine] = await Promise.allSettled([
      withDeadline(deps.pool.query('select 1'), 'database'),
      deps.engine === undefined ? Promise.resolve() : withDeadline(deps.engine.ping(), 'container engine'),
    ]);
    const down: string[] = [];
    const causes: unknown[] = [];
    if (database.status === 'rejected') { down.push('database unreachable'); causes.push(database.reason); }
    if (engine.status === 'rejected') { down.push('container engine unreachable'); causes.push(engine.reason); }
    if (down.length > 0) throw new AppError('NOT_READY', `not ready: ${down.join('; ')}`, { cause: new AggregateError(causes, down.join('; ')) });
  };
}
