/**
 * Phase 1 and 2: the raw engine and Berth end to end, doing the same work at the same concurrency,
 * interleaved so that whatever else the machine is doing weighs on both alike:
 * - sequential: one raw task, one Berth task, alternately (which goes first alternates too);
 *   p50/p95 latency and tasks per second (1000 / mean latency) of each;
 * - concurrency 4 and 8: blocks of tasks in the order raw, Berth, Berth, raw, raw, Berth, …;
 *   tasks per second over all of each path's blocks, and the latency of its tasks.
 * Berth's worker runs with BERTH_WORKER_CONCURRENCY equal to the level; a task is submitted with
 * `Prefer: wait` and read back when final (see http-client.ts). CPU of Berth's processes, their
 * PostgreSQL backends and the engine's daemons is taken around every task (sequential) or block.
 */
import { enginePids, snapshot, usageBetween, type CpuUsage, type PidSource } from './cpu-meter.ts';
import type { BenchDatabase } from './database.ts';
import type { BerthChild } from './berth-process.ts';
import type { EngineTarget } from './engine-target.ts';
import { runTaskThroughBerth, type BenchClient, type BerthTaskTiming } from './http-client.ts';
import { round, runLoad, summarise, taskInput, warmUpTasks, type LatencySummary } from './load.ts';
import { runRawChecked } from './raw-engine.ts';
import { latencyBreakdown, type LatencyBreakdown } from './latency-breakdown.ts';

export interface PathFigures {
  readonly tasks: number;
  readonly perSecond: number;
  readonly latency: LatencySummary;
  /** CPU while this path's tasks ran; `cpuMsPerTask` divides it by the tasks. */
  readonly cpu: CpuUsage;
  readonly cpuMsPerTask: Readonly<Record<string, number>>;
}

export interface LevelResult {
  readonly concurrency: number;
  readonly raw: PathFigures;
  readonly berth: PathFigures;
  /** Berth/raw tasks per second. */
  readonly throughputRatio: number;
}

export interface EndToEndResult {
  readonly levels: readonly LevelResult[];
  /**
   * Sequential: Berth's latency minus the raw latency of the task run right next to it, per pair.
   * Its p50 is the added latency per task, less disturbed by drifting background load than the
   * difference of the two p50s (both are reported).
   */
  readonly pairedAddedMs: LatencySummary;
  /** Where the sequential Berth task's time goes, from the task rows and pg-boss's job rows. */
  readonly breakdown: LatencyBreakdown;
}

export interface EndToEndDeps {
  readonly target: EngineTarget;
  readonly database: BenchDatabase;
  /** The PostgreSQL backends of the bench database. */
  readonly backends: PidSource;
  readonly client: BenchClient;
  readonly api: BerthChild;
  /** Stops the current worker (if any) and starts one with this concurrency on the real engine. */
  startWorker(concurrency: number): Promise<BerthChild>;
  readonly sequentialTasks: number;
  readonly concurrentTasks: number;
  readonly blockSize: number;
  readonly log: (line: string) => void;
}

type Groups = Readonly<Record<string, PidSource>>;

/** Accumulates one path's tasks: elapsed time, latencies and CPU. */
class PathMeter {
  elapsedMs = 0;
  readonly latencies: number[] = [];
  cpu: CpuUsage | undefined;

  async measure<T>(groups: Groups, fn: () => Promise<T>): Promise<T> {
    const before = await snapshot(groups);
    const started = performance.now();
    const result = await fn();
    this.elapsedMs += performance.now() - started;
    this.cpu = addUsage(this.cpu, usageBetween(before, await snapshot(groups)));
    return result;
  }

  figures(sequential: boolean): PathFigures {
    const latency = summarise(this.latencies);
    const tasks = this.latencies.length;
    const cpu = this.cpu!;
    return {
      tasks,
      perSecond: round(sequential ? 1000 / latency.mean : (tasks * 1000) / this.elapsedMs, 2),
      latency,
      cpu,
      cpuMsPerTask: Object.fromEntries(Object.entries(cpu.cpuMs).map(([k, v]) => [k, round(v / tasks, 1)])),
    };
  }
}

export async function runEndToEnd(deps: EndToEndDeps): Promise<EndToEndResult> {
  const levels: LevelResult[] = [];
  let breakdown: LatencyBreakdown | undefined;
  let pairedAddedMs: LatencySummary | undefined;
  const engine = await enginePids(deps.target.name);
  for (const concurrency of [1, 4, 8]) {
    const worker = await deps.startWorker(concurrency);
    await warmUp(deps, concurrency);
    const groups: Groups = {
      api: [deps.api.pid], worker: [worker.pid], postgres: deps.backends, engine,
    };
    const raw = new PathMeter();
    const berth = new PathMeter();
    const timings: BerthTaskTiming[] = [];
    const runRaw = async (i: number): Promise<void> => {
      const started = performance.now();
      await runRawChecked(deps.target, taskInput(i));
      raw.latencies.push(performance.now() - started);
    };
    const runBerth = async (i: number): Promise<void> => {
      const started = performance.now();
      timings.push(await runTaskThroughBerth(deps.client, taskInput(i)));
      berth.latencies.push(performance.now() - started);
    };
    if (concurrency === 1) {
      for (let i = 0; i < deps.sequentialTasks; i++) {
        const pair = [() => raw.measure(groups, () => runRaw(i)), () => berth.measure(groups, () => runBerth(i))];
        if (i % 2 === 1) pair.reverse();
        for (const step of pair) await step();
      }
      breakdown = await latencyBreakdown(deps.database.url, timings);
      pairedAddedMs = summarise(berth.latencies.map((ms, i) => ms - raw.latencies[i]!));
    } else {
      const blocks = Math.ceil(deps.concurrentTasks / deps.blockSize);
      for (let b = 0; b < 2 * blocks; b++) {
        // raw, berth, berth, raw, raw, berth, ...: each path goes first as often as second.
        const berthTurn = (b % 4 === 1) || (b % 4 === 2);
        const meter = berthTurn ? berth : raw;
        await meter.measure(groups, () => runLoad(deps.blockSize, concurrency, berthTurn ? runBerth : runRaw));
      }
    }
    const rawFigures = raw.figures(concurrency === 1);
    const berthFigures = berth.figures(concurrency === 1);
    const level = { concurrency, raw: rawFigures, berth: berthFigures, throughputRatio: round(berthFigures.perSecond / rawFigures.perSecond, 3) };
    levels.push(level);
    deps.log(`  c=${concurrency}: raw ${rawFigures.perSecond}/s p50 ${rawFigures.latency.p50} ms; ` +
      `berth ${berthFigures.perSecond}/s p50 ${berthFigures.latency.p50} ms; ratio ${level.throughputRatio}`);
  }
  return { levels, pairedAddedMs: pairedAddedMs!, breakdown: breakdown! };
}

async function warmUp(deps: EndToEndDeps, concurrency: number): Promise<void> {
  const count = warmUpTasks(concurrency);
  await runLoad(count, concurrency, (i) => runRawChecked(deps.target, taskInput(i)));
  await runLoad(count, concurrency, async (i) => { await runTaskThroughBerth(deps.client, taskInput(i)); });
}

function addUsage(a: CpuUsage | undefined, b: CpuUsage): CpuUsage {
  if (a === undefined) return b;
  const cpuMs: Record<string, number> = { ...a.cpuMs };
  for (const [k, v] of Object.entries(b.cpuMs)) cpuMs[k] = (cpuMs[k] ?? 0) + v;
  const wallMs = a.wallMs + b.wallMs;
  return { wallMs, machineBusyPct: Math.round((a.machineBusyPct * a.wallMs + b.machineBusyPct * b.wallMs) / wallMs), cpuMs };
}
