/**
 * The benchmark's result: its JSON shape, the targets it is judged by, and the table printed to
 * the terminal. Pure: no I/O besides returning strings.
 */
import type { BacklogResult, DrainFigures } from './backlog-phase.ts';
import type { EndToEndResult, LevelResult } from './end-to-end-phase.ts';
import type { MachineDescription } from './machine.ts';
import type { MemoryResult } from './memory-phase.ts';
import type { SubmissionResult } from './submission-phase.ts';
import { round } from './load.ts';

export interface BenchResults {
  readonly startedAt: string;
  /** Extra node options Berth ran with (BENCH_BERTH_NODE_ARGS/BENCH_PROFILE_DIR); empty for a plain run. */
  readonly berthNodeArgs: readonly string[];
  /** Task and request counts of each phase (bench/main.ts COUNTS). */
  readonly counts: Readonly<Record<string, number>>;
  readonly durationSeconds: number;
  readonly engineName: 'docker' | 'podman';
  readonly machine: MachineDescription;
  readonly endToEnd: EndToEndResult;
  /** Absent in results stored before the phase existed. */
  readonly backlog?: BacklogResult;
  readonly submission: SubmissionResult;
  readonly memory: MemoryResult;
  readonly containersLeftBehind: number;
  /** 1-minute load average when the run started and ended: how busy the machine was besides the benchmark. */
  readonly loadAverage: { readonly start: number; readonly end: number };
  readonly targets: readonly TargetCheck[];
}

export interface TargetCheck {
  readonly name: string;
  readonly target: string;
  readonly measured: string;
  readonly pass: boolean;
}

export function checkTargets(e2e: EndToEndResult, backlog: BacklogResult, submission: SubmissionResult, memory: MemoryResult): TargetCheck[] {
  const sequential = level(e2e, 1);
  const addedP50 = e2e.pairedAddedMs.p50;
  const checks: TargetCheck[] = [{
    name: 'added latency per task, p50 (sequential)',
    target: '<= 15 ms',
    measured: `${addedP50} ms (p50 of per-pair differences; p50 berth ${sequential.berth.latency.p50} - raw ${sequential.raw.latency.p50} = ` +
      `${round(sequential.berth.latency.p50 - sequential.raw.latency.p50)})`,
    pass: addedP50 <= 15,
  }];
  for (const l of e2e.levels) {
    checks.push({
      name: `throughput vs raw at concurrency ${l.concurrency}`,
      target: '>= 90%',
      measured: `${round(l.throughputRatio * 100)}% (${l.berth.perSecond} vs ${l.raw.perSecond} tasks/s)`,
      pass: l.throughputRatio >= 0.9,
    });
  }
  checks.push(...backlogTargets(backlog));
  checks.push(
    { name: 'single submissions (POST /tasks)', target: '>= 2,000/s', measured: `${submission.single.perSecond}/s`, pass: submission.single.perSecond >= 2000 },
    { name: 'batch submissions (POST /tasks/batch)', target: '>= 20,000 tasks/s', measured: `${submission.batch.tasksPerSecond} tasks/s`, pass: submission.batch.tasksPerSecond >= 20000 },
    { name: 'API RSS growth after warm-up', target: '<= 10%', measured: rssText(memory, 'api'), pass: memory.apiGrowthPct <= 10 },
    { name: 'worker RSS growth after warm-up', target: '<= 10%', measured: rssText(memory, 'worker'), pass: memory.workerGrowthPct <= 10 },
  );
  return checks;
}

/** A saturated runner may cost this much more Berth CPU per task than an unlimited backlog before it counts as spinning. */
const SPIN_FACTOR = 1.5;

function berthCpuPerTask(figures: DrainFigures): number {
  return round((figures.cpuMsPerTask['worker'] ?? 0) + (figures.cpuMsPerTask['postgres'] ?? 0));
}

/** The unlimited backlog level to compare the saturated runner with: the same worker concurrency if measured. */
export function saturatedReference(backlog: BacklogResult): BacklogResult['levels'][number] {
  const { levels, saturated } = backlog;
  return levels.find((l) => l.concurrency === saturated.workerConcurrency) ?? levels.at(-1)!;
}

function backlogTargets(backlog: BacklogResult): TargetCheck[] {
  const { saturated } = backlog;
  const reference = saturatedReference(backlog);
  const spent = berthCpuPerTask(saturated.berth);
  const unlimited = berthCpuPerTask(reference.berth);
  return [
    ...backlog.levels.map((l) => ({
      name: `backlog of ${backlog.tasks} drained vs raw at concurrency ${l.concurrency}`,
      target: '>= 90%',
      measured: `${round(l.throughputRatio * 100)}% (${l.berth.perSecond} vs ${l.raw.perSecond} tasks/s)`,
      pass: l.throughputRatio >= 0.9,
    })),
    {
      name: `saturated runner (limit ${saturated.runnerConcurrency}) drains at its limit's pace`,
      target: `>= 90% of raw at concurrency ${saturated.runnerConcurrency}`,
      measured: `${round(saturated.throughputRatio * 100)}% (${saturated.berth.perSecond} vs ${saturated.raw.perSecond} tasks/s)`,
      pass: saturated.throughputRatio >= 0.9,
    },
    {
      name: 'saturated runner does not spin (worker + PostgreSQL CPU per task)',
      target: `<= ${SPIN_FACTOR}x the unlimited backlog at concurrency ${reference.concurrency}`,
      measured: `${spent} ms against ${unlimited} ms`,
      pass: spent <= SPIN_FACTOR * unlimited,
    },
    {
      name: 'saturated runner never exceeds its limit',
      target: `<= ${saturated.runnerConcurrency} running`,
      measured: `at most ${saturated.maxRunning} seen running`,
      pass: saturated.maxRunning <= saturated.runnerConcurrency,
    },
  ];
}

export function backlogRows(backlog: BacklogResult): string[][] {
  const rows = [['backlog', 'worker concurrency', 'raw tasks/s', 'berth tasks/s', 'berth/raw', 'berth s', 'raw s',
    'berth CPU ms/task (worker + pg)', 'berth worker + pg, % of a core', 'engine CPU ms/task berth / raw', 'machine busy berth / raw']];
  const row = (name: string, workerConcurrency: number, raw: DrainFigures, berth: DrainFigures, ratio: number): string[] => [
    name, String(workerConcurrency), String(raw.perSecond), String(berth.perSecond), `${round(ratio * 100)}%`,
    String(round(berth.elapsedMs / 1000)), String(round(raw.elapsedMs / 1000)),
    `${berthCpuPerTask(berth)} (${berth.cpuMsPerTask['worker']} + ${berth.cpuMsPerTask['postgres']})`,
    `${round((((berth.cpu.cpuMs['worker'] ?? 0) + (berth.cpu.cpuMs['postgres'] ?? 0)) * 100) / berth.cpu.wallMs)}%`,
    `${berth.cpuMsPerTask['engine']} / ${raw.cpuMsPerTask['engine']}`, `${berth.cpu.machineBusyPct}% / ${raw.cpu.machineBusyPct}%`,
  ];
  for (const l of backlog.levels) rows.push(row(`${backlog.tasks} tasks, raw at c=${l.concurrency}`, l.concurrency, l.raw, l.berth, l.throughputRatio));
  const s = backlog.saturated;
  rows.push(row(`${backlog.tasks} tasks, runner limited to ${s.runnerConcurrency} (max ${s.maxRunning} running), raw at c=${s.runnerConcurrency}`,
    s.workerConcurrency, s.raw, s.berth, s.throughputRatio));
  return rows;
}

function rssText(memory: MemoryResult, which: 'api' | 'worker'): string {
  const first = memory.samples[0]!;
  const last = memory.samples.at(-1)!;
  const [a, b, pct] = which === 'api' ? [first.apiMiB, last.apiMiB, memory.apiGrowthPct] : [first.workerMiB, last.workerMiB, memory.workerGrowthPct];
  return `${pct}% (${a} -> ${b} MiB over ${memory.tasks} tasks)`;
}

function level(e2e: EndToEndResult, concurrency: number): LevelResult {
  const found = e2e.levels.find((l) => l.concurrency === concurrency);
  if (found === undefined) throw new Error(`no result at concurrency ${concurrency}`);
  return found;
}

/** Rows of cells → an aligned text table (or a Markdown table). */
export function table(rows: readonly (readonly string[])[], markdown = false): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]): string => {
    const cells = r.map((cell, c) => cell.padEnd(widths[c]!));
    return markdown ? `| ${cells.join(' | ')} |` : cells.join('  ');
  };
  const separator = markdown ? `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |` : widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(rows[0]!), separator, ...rows.slice(1).map(line)].join('\n');
}

export function endToEndRows(e2e: EndToEndResult): string[][] {
  const rows = [['concurrency', 'raw tasks/s', 'berth tasks/s', 'berth/raw', 'raw p50 ms', 'berth p50 ms', 'raw p95 ms', 'berth p95 ms', 'tasks each']];
  for (const l of e2e.levels) {
    rows.push([
      l.concurrency === 1 ? '1 (sequential)' : String(l.concurrency), String(l.raw.perSecond), String(l.berth.perSecond),
      `${round(l.throughputRatio * 100)}%`, String(l.raw.latency.p50), String(l.berth.latency.p50),
      String(l.raw.latency.p95), String(l.berth.latency.p95), String(l.raw.tasks),
    ]);
  }
  return rows;
}

export function breakdownRows(e2e: EndToEndResult): string[][] {
  const rows = [['sequential Berth task', 'p50 ms', 'p95 ms', 'mean ms']];
  for (const [part, s] of Object.entries(e2e.breakdown)) rows.push([part, String(s.p50), String(s.p95), String(s.mean)]);
  const added = e2e.pairedAddedMs;
  rows.push(['added over the raw task next to it', String(added.p50), String(added.p95), String(added.mean)]);
  return rows;
}

export function targetRows(targets: readonly TargetCheck[]): string[][] {
  return [['target', 'goal', 'measured', 'result'], ...targets.map((t) => [t.name, t.target, t.measured, t.pass ? 'PASS' : 'MISS'])];
}

export function terminalReport(results: BenchResults): string {
  const { submission: s, memory: m } = results;
  return [
    `Berth benchmark on ${results.machine.engine}, ${results.machine.cores} cores, ${results.machine.postgres}, Node ${results.machine.node}, Berth ${results.machine.berthCommit}`,
    `load average (1 min) at start ${results.loadAverage.start}, at end ${results.loadAverage.end}`,
    '',
    table(endToEndRows(results.endToEnd)),
    '',
    table(breakdownRows(results.endToEnd)),
    '',
    ...(results.backlog === undefined ? [] : [table(backlogRows(results.backlog)), '']),
    table([
      ['ingestion (no worker)', 'figure', 'p50 ms', 'p95 ms'],
      [`POST /tasks, ${s.single.inFlight} in flight`, `${s.single.perSecond}/s`, String(s.single.latency.p50), String(s.single.latency.p95)],
      [`POST /tasks/batch (1,000 tasks), ${s.batch.inFlight} in flight`, `${s.batch.tasksPerSecond} tasks/s`, String(s.batch.latency.p50), String(s.batch.latency.p95)],
      ['POST /tasks rejected before the database (reference)', `${s.rejectedBeforeDatabasePerSecond}/s`, '', ''],
    ]),
    '',
    table([
      ['memory (stand-in engine)', 'start MiB', 'end MiB', 'growth'],
      ['api', String(m.samples[0]!.apiMiB), String(m.samples.at(-1)!.apiMiB), `${m.apiGrowthPct}%`],
      ['worker', String(m.samples[0]!.workerMiB), String(m.samples.at(-1)!.workerMiB), `${m.workerGrowthPct}%`],
    ]),
    `  ${m.tasks} tasks after ${m.warmUpTasks} warm-up, ${m.perSecond} tasks/s; CPU ms per task: ${Object.entries(m.cpuMsPerTask).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    '',
    table(targetRows(results.targets)),
    '',
    `containers left behind: ${results.containersLeftBehind}; run took ${results.durationSeconds} s`,
  ].join('\n');
}
