/**
 * `npm run bench`: the raw engine against Berth end to end, a queued backlog, ingestion, and
 * memory, in one run against a real PostgreSQL and a real engine, then a table,
 * bench/results/latest.json and bench/RESULTS.md. Bounded in time (BENCH_TIMEOUT, default 25 min)
 * and clean afterwards: Berth's processes stopped, the bench database dropped, no container
 * labelled berth.managed-by=bench left.
 *
 *   BENCH_ENGINE=docker|podman   engine (default docker); DOCKER_HOST overrides its socket
 *   BENCH_DATABASE_URL           superuser URL used to create/drop the bench database
 *   BENCH_QUICK=1                small counts, for trying the benchmark itself out
 *   BENCH_BACKLOG_LEVELS=1,4,8   worker concurrencies of the backlog phase (default 1,4,8, the levels the
 *                                targets name; 4 with BENCH_QUICK); each adds one to three minutes
 *   BENCH_PROFILE_DIR=dir        run Berth's processes with --cpu-prof, profiles into dir
 *   BENCH_BERTH_NODE_ARGS='…'    extra node options for Berth's processes (experiments, e.g. --import)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { ensureBusyboxImage } from '../scripts/busybox-image.ts';
import { spawnBerth, startApi, type BerthChild } from './berth-process.ts';
import { adminUrl, createBenchDatabase, type BenchDatabase } from './database.ts';
import { runBacklog } from './backlog-phase.ts';
import { BackendPids, enginePids } from './cpu-meter.ts';
import { runEndToEnd } from './end-to-end-phase.ts';
import { BENCH_IMAGE, engineTarget, removeBenchContainers } from './engine-target.ts';
import { BenchClient } from './http-client.ts';
import { round } from './load.ts';
import { describeMachine } from './machine.ts';
import { runMemory } from './memory-phase.ts';
import { checkTargets, terminalReport, type BenchResults } from './report.ts';
import { startStandInEngine, type StandInEngine } from './stand-in-engine.ts';
import { runSubmission } from './submission-phase.ts';
import { writeResultsMarkdown } from './write-results.ts';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const quick = process.env['BENCH_QUICK'] === '1';
const COUNTS = quick
  ? { sequential: 20, concurrent: 40, block: 20, backlog: 40, memoryWarmUp: 2500, memoryTasks: 1000, sampleEvery: 250, single: 3000, batch: 10 }
  : { sequential: 100, concurrent: 160, block: 40, backlog: 200, memoryWarmUp: 14000, memoryTasks: 5000, sampleEvery: 1000, single: 10000, batch: 40 };
const TIMEOUT_MS = Number(process.env['BENCH_TIMEOUT'] ?? 25 * 60) * 1000;
const BACKLOG_LEVELS = parseLevels(process.env['BENCH_BACKLOG_LEVELS'] ?? (quick ? '4' : '1,4,8'));
/** Worker slots for the backlog on the runner limited to 2: more than the limit, so it is saturated. */
const SATURATED_WORKER_CONCURRENCY = 4;

const log = (line: string): void => void process.stdout.write(`${line}\n`);

interface Resources {
  database?: BenchDatabase;
  backends?: BackendPids;
  api?: BerthChild;
  worker?: BerthChild;
  standIn?: StandInEngine;
  client?: BenchClient;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAtStart = os.loadavg()[0]!;
  const target = engineTarget();
  const machine = await describeMachine(target);
  log(`engine ${machine.engine} at ${target.dockerHost}; ${machine.postgres}; Node ${machine.node}; Berth ${machine.berthCommit}`);
  await ensureBusyboxImage(target.dockerHost, BENCH_IMAGE);
  await removeBenchContainers(target);

  const resources: Resources = {};
  // Each step on its own, so one failing (say, a process that will not stop) does not keep the
  // database or the stand-in socket around.
  const cleanup = once(async () => {
    resources.client?.close();
    const steps: [string, (() => Promise<unknown>) | undefined][] = [
      ['stopping the worker', resources.worker && (() => resources.worker!.stop())],
      ['stopping the API', resources.api && (() => resources.api!.stop())],
      ['closing the CPU meter\'s connection', resources.backends && (() => resources.backends!.close())],
      ['dropping the database', resources.database && (() => resources.database!.drop())],
      ['closing the stand-in engine', resources.standIn && (() => resources.standIn!.close())],
    ];
    for (const [what, step] of steps) {
      await step?.().catch((error: unknown) => log(`cleanup: ${what} failed: ${String(error)}`));
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: cleaning up`);
      void cleanup().finally(() => removeBenchContainers(target)).finally(() => process.exit(130));
    });
  }
  const watchdog = setTimeout(() => {
    log(`the benchmark passed its time limit (${TIMEOUT_MS / 1000} s); cleaning up`);
    void cleanup().finally(() => removeBenchContainers(target)).finally(() => process.exit(1));
  }, TIMEOUT_MS);
  watchdog.unref();

  const profile = process.env['BENCH_PROFILE_DIR'];
  const extra = (process.env['BENCH_BERTH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
  const nodeArgs = [...(profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profile}`]), ...extra];
  if (nodeArgs.length > 0) log(`Berth processes run with node ${nodeArgs.join(' ')}`);
  let results: BenchResults;
  try {
    const database = (resources.database = await createBenchDatabase());
    const backends = (resources.backends = new BackendPids(adminUrl(), database.name));
    const env = { databaseUrl: database.url, dockerHost: target.dockerHost, workerConcurrency: 1, nodeArgs };
    /** (Re)starts the API alone; every phase gets a fresh one so no phase inherits another's state. */
    const restartApi = async (extraArgs: readonly string[] = []): Promise<BerthChild> => {
      resources.client?.close();
      await resources.worker?.stop();
      resources.worker = undefined;
      await resources.api?.stop();
      const api = await startApi({ ...env, nodeArgs: [...nodeArgs, ...extraArgs] });
      resources.api = api.process;
      resources.client = new BenchClient(api.url, 64);
      return api.process;
    };
    const startWorker = async (concurrency: number, dockerHost = target.dockerHost, extraArgs: readonly string[] = []): Promise<BerthChild> => {
      await resources.worker?.stop();
      resources.worker = spawnBerth('worker', { ...env, dockerHost, workerConcurrency: concurrency, nodeArgs: [...nodeArgs, ...extraArgs] });
      return resources.worker;
    };
    log(`database ${database.name}`);

    log('end to end: raw engine vs Berth, sequential and at concurrency 4 and 8');
    let api = await restartApi();
    const endToEnd = await runEndToEnd({
      target, database, backends: backends.lookup, client: resources.client!, api, startWorker,
      sequentialTasks: COUNTS.sequential, concurrentTasks: COUNTS.concurrent, blockSize: COUNTS.block, log,
    });

    log(`backlog: ${COUNTS.backlog} queued tasks drained, raw vs Berth at worker concurrency ${BACKLOG_LEVELS.join(', ')}; ` +
      `then a runner limited to 2 (fresh API)`);
    api = await restartApi();
    const backlog = await runBacklog({
      target, database, backends: backends.lookup, client: resources.client!, api, engine: await enginePids(target.name), startWorker,
      tasks: COUNTS.backlog, levels: BACKLOG_LEVELS, saturatedWorkerConcurrency: SATURATED_WORKER_CONCURRENCY, log,
    });

    log('memory: RSS over a long run (stand-in engine; fresh API and worker with --trace-gc)');
    resources.standIn = await startStandInEngine();
    api = await restartApi(['--trace-gc']);
    const worker = await startWorker(8, resources.standIn.dockerHost, ['--trace-gc']);
    const memory = await runMemory({
      api, worker, client: resources.client!, backends: backends.lookup,
      maxWarmUpTasks: COUNTS.memoryWarmUp, tasks: COUNTS.memoryTasks, sampleEvery: COUNTS.sampleEvery, log,
    });

    log('submission: ingestion with no worker running (fresh API)');
    api = await restartApi();
    const submission = await runSubmission({
      backends: backends.lookup, client: resources.client!, api, inFlight: 64, singleRequests: COUNTS.single, batchRequests: COUNTS.batch, batchInFlight: 4, log,
    });

    await cleanup();
    const containersLeftBehind = await removeBenchContainers(target);
    results = {
      startedAt: startedAt.toISOString(),
      berthNodeArgs: nodeArgs,
      counts: COUNTS,
      durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
      engineName: target.name,
      machine,
      endToEnd,
      backlog,
      submission,
      memory,
      containersLeftBehind,
      loadAverage: { start: round(loadAtStart, 2), end: round(os.loadavg()[0]!, 2) },
      targets: checkTargets(endToEnd, backlog, submission, memory),
    };
  } finally {
    clearTimeout(watchdog);
    await cleanup();
    await removeBenchContainers(target);
  }

  log('');
  log(terminalReport(results));
  await mkdir(RESULTS_DIR, { recursive: true });
  const json = `${JSON.stringify(results, null, 2)}\n`;
  const stamp = `${RESULTS_DIR}${results.startedAt.replace(/[:.]/g, '-')}-${results.engineName}`;
  if (extra.length > 0) {
    // An experiment (Berth not as shipped) must not stand in for Berth's results.
    await writeFile(`${stamp}-experiment.json`, json);
    log(`\nexperiment: wrote ${stamp}-experiment.json only (latest.json and RESULTS.md untouched)`);
    return;
  }
  await writeFile(`${RESULTS_DIR}latest.json`, json);
  await writeFile(`${RESULTS_DIR}latest-${results.engineName}.json`, json);
  await writeFile(`${stamp}.json`, json);
  const written = await writeResultsMarkdown();
  log(`\nwrote ${RESULTS_DIR}latest.json and ${written}`);
}

function parseLevels(text: string): number[] {
  const levels = text.split(',').map((part) => part.trim()).filter((part) => part !== '').map(Number);
  if (levels.length === 0 || levels.some((level) => !Number.isInteger(level) || level < 1)) {
    throw new Error(`BENCH_BACKLOG_LEVELS must list positive integers, e.g. 1,4,8; got ${JSON.stringify(text)}`);
  }
  return levels;
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
