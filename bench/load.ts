/**
 * Load shapes shared by every phase: run N operations with at most C in flight, timing each one,
 * and summarise latencies. Nothing here knows what an operation is.
 */

/**
 * Tasks each path runs before a measured level. Berth's worker is started afresh for every level,
 * and a deployed worker runs warm: measured cold, it would still be compiling its code (V8 tiers a
 * function up after hundreds of calls). The raw path runs in this long-lived process.
 */
export function warmUpTasks(concurrency: number): number {
  return Math.max(30, concurrency * 4);
}

export interface LoadRun {
  readonly count: number;
  readonly concurrency: number;
  readonly elapsedMs: number;
  /** Milliseconds per operation, in completion order. */
  readonly latenciesMs: readonly number[];
}

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarise(latenciesMs: readonly number[]): LatencySummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    mean: round(sum / sorted.length),
    min: round(sorted[0] ?? Number.NaN),
    max: round(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

export function perSecond(run: LoadRun, units = run.count): number {
  return round((units * 1000) / run.elapsedMs);
}

export function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/**
 * Runs `count` operations, `concurrency` at a time (each worker loop takes the next index), and
 * fails on the first error: a benchmark that silently drops failures reports fiction.
 */
export async function runLoad(
  count: number,
  concurrency: number,
  operation: (index: number) => Promise<void>,
): Promise<LoadRun> {
  const latenciesMs: number[] = [];
  let next = 0;
  let failed: unknown;
  const loop = async (): Promise<void> => {
    while (failed === undefined) {
      const index = next++;
      if (index >= count) return;
      const started = performance.now();
      try {
        await operation(index);
      } catch (error) {
        failed ??= error;
        return;
      }
      latenciesMs.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, loop));
  const elapsedMs = performance.now() - started;
  if (failed !== undefined) throw failed;
  return { count, concurrency, elapsedMs, latenciesMs };
}

/** A small JSON input, the same for the raw path and Berth: what `cat` echoes back. */
export function taskInput(index: number): { n: number; text: string; flags: readonly boolean[] } {
  return { n: index, text: `bench task ${index}`, flags: [true, false] };
}
