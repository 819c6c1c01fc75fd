/**
 * Live logs: stderr chunks from a running container are stored as they come, batched (a flush at
 * most every FLUSH_MS), and announced with a 'log' event so followers read them at once. Stops
 * storing once the attempt's log reaches the limit: the final tail replaces it when the attempt ends.
 */
import type { Pool } from '../db.ts';
import type { Logger } from '../logger.ts';
import { publishTaskEvent } from '../task-events.ts';
import { appendLog } from './log-store.ts';

const FLUSH_MS = 200;

export class LogStreamer {
  readonly #pool: Pool;
  readonly #taskId: string;
  readonly #attempt: number;
  readonly #limitBytes: number;
  readonly #logger: Logger;
  #pending: Buffer[] = [];
  #stored = 0;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #failed = false;

  constructor(options: { pool: Pool; taskId: string; attempt: number; limitBytes: number; logger: Logger }) {
    this.#pool = options.pool;
    this.#taskId = options.taskId;
    this.#attempt = options.attempt;
    this.#limitBytes = options.limitBytes;
    this.#logger = options.logger;
  }

  /** False when the stored chunks may not be the whole of stderr (limit reached, or a flush failed). */
  get complete(): boolean {
    return !this.#failed && this.#stored < this.#limitBytes;
  }

  push(chunk: Buffer): void {
    if (this.#stored >= this.#limitBytes) return;
    const room = this.#limitBytes - this.#stored;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.#pending.push(Buffer.from(kept));
    this.#stored += kept.length;
    this.#timer ??= setTimeout(() => this.#flush(), FLUSH_MS);
  }

  /** Stores what is still pending and waits for every flush to end. */
  async close(): Promise<void> {
    this.#flush();
    await this.#flushing;
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const content = Buffer.concat(this.#pending);
    this.#pending = [];
    // Chained, so chunks are stored in the order they were written.
    this.#flushing = this.#flushing.then(async () => {
      try {
        await appendLog(this.#pool, this.#taskId, this.#attempt, content);
        await publishTaskEvent(this.#pool, this.#taskId, 'log');
      } catch (error) {
        // Live logs are best effort: an incomplete log is replaced with the whole tail at the end.
        this.#failed = true;
        this.#logger.warn({ err: error, taskId: this.#taskId }, 'storing live log output failed');
      }
    });
  }
}
