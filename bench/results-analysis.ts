/**
 * The "what limits the figures" part of RESULTS.md: the findings of profiling the misses, with the
 * figures of the latest runs filled in, and the experiments (Berth with a suggested change applied
 * at load time, bench/experiments/) side by side with Berth as shipped.
 */
import { round } from './load.ts';
import { table, type BenchResults } from './report.ts';

const sum = (values: Record<string, number>, keys: string[]): number => round(keys.reduce((n, k) => n + (values[k] ?? 0), 0), 2);

function experimentName(args: readonly string[]): string {
  const files = args.filter((a) => a.includes('bench/experiments/')).map((a) => a.replace(/.*experiments\//, '').replace(/\.ts$/, ''));
  return files.length > 0 ? files.join(' + ') : args.join(' ');
}

function figures(r: BenchResults): string[] {
  const seq = r.endToEnd.levels.find((l) => l.concurrency === 1)!;
  const s = r.submission.single;
  return [
    `${r.endToEnd.pairedAddedMs?.p50 ?? round(seq.berth.latency.p50 - seq.raw.latency.p50)} ms`,
    r.endToEnd.levels.map((l) => `${round(l.throughputRatio * 100)}%`).join(' / '),
    `${sum(seq.berth.cpuMsPerTask, ['api', 'worker', 'postgres'])} ms`,
    `${s.perSecond}/s`,
    `${sum(s.cpuMsPerTask, ['api', 'postgres'])} ms (api ${s.cpuMsPerTask['api']}, pg ${s.cpuMsPerTask['postgres']})`,
    `${r.submission.rejectedBeforeDatabasePerSecond}/s`,
  ];
}

export function limitsSection(runs: readonly BenchResults[], experiments: readonly BenchResults[]): string {
  const docker = runs.find((r) => r.engineName === 'docker') ?? runs[0]!;
  const seq = docker.endToEnd.levels.find((l) => l.concurrency === 1)!;
  const b = docker.endToEnd.breakdown;
  const s = docker.submission.single;
  const outside = round(b.accept.p50 + b.pickup.p50 + b.claim.p50 + b.answer.p50);
  const busy = docker.endToEnd.levels.filter((l) => l.concurrency > 1).map((l) => `${l.berth.cpu.machineBusyPct}%`).join(' and ');
  const engineExtra = round(seq.berth.cpuMsPerTask['engine']! - seq.raw.cpuMsPerTask['engine']!);
  const rows = [
    ['Berth', 'added p50', 'berth/raw at 1 / 4 / 8', 'Berth CPU per task (seq.)', 'POST /tasks', 'CPU per submission', 'reference (400)'],
    ['as shipped', ...figures(docker)],
    ...experiments.map((e) => [`with ${experimentName(e.berthNodeArgs)} (${e.startedAt.slice(0, 16)})`, ...figures(e)]),
  ];
  return [
    '## What limits the figures',
    '',
    '**The machine.** Two cores are shared by the engine (dockerd, containerd, a shim and runc per container), PostgreSQL,',
    `Berth\'s two processes and the load generator, and on this host by other work too (test suites ran during these runs).`,
    `At concurrency 4 and 8 the machine is ${busy} busy: throughput there is CPU per task in disguise. The raw engine`,
    `needs about ${seq.raw.cpuMsPerTask['engine']} ms of dockerd+containerd CPU per task, plus runc, the shim and the kernel, and`,
    'plateaus at 5.5 to 7.5 tasks/s. Absolute figures move by 20% or more from run to run with the background load; raw',
    'and Berth tasks are interleaved so the ratios stay fair.',
    '',
    `**Single submissions** (${s.perSecond}/s against 2,000). Each POST /tasks costs ${sum(s.cpuMsPerTask, ['api', 'postgres', 'bench client'])} ms of CPU`,
    `(PostgreSQL backends ${s.cpuMsPerTask['postgres']} ms, API ${s.cpuMsPerTask['api']} ms, load generator ${s.cpuMsPerTask['bench client']} ms), so two cores`,
    'cannot do 2,000 a second whatever the concurrency. The API itself is not the limit: the same requests rejected before',
    `any database work (unknown runner) are answered at ${docker.submission.rejectedBeforeDatabasePerSecond}/s. PostgreSQL is: a submission is five`,
    'round trips (begin, insert task, pg-boss insert, commit, then getTask reads the row back) and every statement is sent',
    'unnamed, so PostgreSQL parses and plans it on every call. Measured one statement at a time on one connection',
    '(PostgreSQL backend CPU per call, unnamed → prepared): pg-boss\'s job insert 1,005 → 365 µs, insertTask with its',
    'TASK_SELECT CTE 475 → 315 µs, getTask 245 → 95 µs; the whole submission 1,700 → 915 µs, or 650 µs without the',
    'read-back. Two changes in src/, measured below as experiments:',
    '1. Prepared statements: give the hot statements a `name` (pg caches the parsed statement per connection), and in',
    '   `asBossDb` (src/queue.ts) name pg-boss\'s SQL by a hash of its text; drop the read-back in `submitTask`',
    '   (insertTask already returns the task).',
    '2. Coalesce concurrent single submissions: while one transaction is in flight, queue the submissions that arrive',
    '   and commit them together through the batch path (`insertTasks` + one `enqueueMany`), answering each request after',
    '   the shared commit (bench/experiments/coalesced-task-service.ts is a 60-line version). Idempotency-keyed requests',
    '   keep the single path; a validation failure retries the group one by one so each request gets its own answer.',
    '',
    `**Added latency** (${docker.endToEnd.pairedAddedMs.p50} ms at p50). Outside the container run a sequential task spends`,
    `${outside} ms at p50 in Berth (accept ${b.accept.p50}, pickup ${b.pickup.p50}, claim ${b.claim.p50}, answer ${b.answer.p50}): a chain of about a dozen`,
    'round trips to PostgreSQL on the critical path (submit transaction, pg-boss fetch, the claim transaction of five',
    'statements, the settle transaction of five, pg-boss complete, the API re-reading the task twice). Prepared',
    'statements roughly halve each of them (experiment below). Folding the claim (`lockQueuedTask` + `claimTask` +',
    '`insertAttempt`) and the settlement (`endAttempt` + `finishTask` + `pg_notify`) into one statement each would remove',
    'six more round trips. Berth\'s engine adapter itself (two attaches, wait after the output ends, inspect) costs 0 to 9 ms',
    `over the raw path (measured apart, within noise) and ${engineExtra} ms more engine-daemon CPU per task.`,
    '',
    `**Throughput** (berth/raw ${docker.endToEnd.levels.map((l) => `${round(l.throughputRatio * 100)}%`).join(', ')}). With the cores saturated the ratio is`,
    'about raw CPU per task / (raw + Berth\'s extra). Berth adds, per task, its processes and PostgreSQL',
    `(${sum(seq.berth.cpuMsPerTask, ['api', 'worker', 'postgres'])} ms sequentially) and a little engine-daemon work; the worker's share with a real engine`,
    '(10 to 16 ms) is mostly dockerode requests over fresh unix connections and their parsing, GC and the pg client.',
    'Prepared statements halve the PostgreSQL share, which is what moves the ratio.',
    '',
    `**Memory.** RSS grows for the first several thousand tasks while V8 sizes its heap, then settles; the heap left after`,
    'each full GC (--trace-gc) stays flat from the first samples on, so the growth is heap headroom, not a leak. The warm-up',
    'therefore runs until RSS has settled (less than 3% over three blocks of 1,000 tasks, at least 5,000 tasks) before the',
    '5,000 measured tasks. The worker settles last, at about 350 MiB after 6,000 to 9,000 tasks.',
    '',
    '**Experiments** (bench/experiments/, applied at load time with BENCH_BERTH_NODE_ARGS; Berth\'s code is unchanged):',
    '',
    table(rows, true),
    '',
  ].join('\n');
}
