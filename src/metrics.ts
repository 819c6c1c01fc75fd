/**
 * Prometheus metrics of one process: the only module that imports prom-client. Each process (API,
 * worker) builds its own registry at its entry point and hands the observers below to the modules
 * that see the events; those modules declare the observer they need in their own types, which the
 * object returned here satisfies.
 *
 * Two kinds of figures, so nothing is counted twice across processes:
 * - events of this process (a task submitted or finished here, a container created, a callback or
 *   webhook delivered): counters and histograms, summed over processes by the query;
 * - facts of the database (queue depth, oldest queued task, running tasks, workflow runs by status):
 *   read at scrape time with one statement each, by the API only (`figures`), so every replica
 *   reports the same value (take max(), not sum(), over replicas).
 *
 * Labels are bounded: runner, webhook and status names come from the runners file or the code,
 * never a task id.
 */
import client from 'prom-client';

/** Seconds: a task runs from a fraction of a second to an hour. */
const TASK_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
/** Seconds: an engine's create or start takes milliseconds, or seconds when it is loaded. */
const CONTAINER_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export type FinalStatus = 'succeeded' | 'failed' | 'cancelled';
export type ContainerOperation = 'create' | 'start';
export type WebhookResult = 'started' | 'duplicate' | 'ignored' | 'unauthorized' | 'malformed' | 'error';
export type CallbackSubject = 'task' | 'workflow';

/** The database's figures, as the API reads them at each scrape (tasks/task-figures.ts). */
export interface DatabaseFigures {
  readonly runners: readonly {
    readonly runner: string;
    /** Queued tasks whose start time has come: waiting for a worker or a slot of their runner. */
    readonly queued: number;
    /** Seconds since the longest-waiting of those became due; 0 when none waits. */
    readonly oldestQueuedSeconds: number;
    readonly running: number;
  }[];
  readonly workflowRuns: readonly { readonly status: string; readonly count: number }[];
}

export interface MetricsOptions {
  /** The configured runners: their series exist (at zero) before their first task. */
  readonly runners: readonly string[];
  /** Read from the database at each scrape; omitted in a process that does not report them (the worker). */
  readonly figures?: () => Promise<DatabaseFigures>;
  /** Told when the figures could not be read: the scrape still answers, without them. */
  readonly onFiguresError?: (error: unknown) => void;
}

export interface Metrics {
  readonly contentType: string;
  /** The Prometheus text exposition of every metric of this process. */
  render(): Promise<string>;
  // Tasks (TaskObserver in tasks/task-observer.ts).
  submitted(runner: string): void;
  started(runner: string, queuedMs: number | null): void;
  finished(runner: string, status: FinalStatus, durationMs: number | null): void;
  // Containers (ContainerOpObserver in engine/docker-engine.ts).
  containerOp(operation: ContainerOperation, durationMs: number, ok: boolean): void;
  // Callbacks (CallbackObserver in callbacks/callback-sender.ts).
  callbackDelivery(subject: CallbackSubject, ok: boolean): void;
  // Webhooks (WebhookObserver in webhooks/webhook-service.ts).
  webhookDelivery(webhook: string, result: WebhookResult): void;
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const submitted = new client.Counter({
    name: 'berth_tasks_submitted_total', help: 'Tasks submitted (queued for the first time) by this process, by runner',
    labelNames: ['runner'], registers,
  });
  const finished = new client.Counter({
    name: 'berth_tasks_finished_total', help: 'Tasks that reached a final status in this process, by runner and status',
    labelNames: ['runner', 'status'], registers,
  });
  const duration = new client.Histogram({
    name: 'berth_task_duration_seconds', help: 'Run time of the attempt that ended a task (its claim to its end), by runner and status',
    labelNames: ['runner', 'status'], buckets: TASK_BUCKETS, registers,
  });
  const queueWait = new client.Histogram({
    name: 'berth_task_queue_wait_seconds', help: 'From a task\'s submission (or its start time, if later) to its first attempt\'s start, by runner',
    labelNames: ['runner'], buckets: TASK_BUCKETS, registers,
  });
  const containerOps = new client.Histogram({
    name: 'berth_container_operation_seconds', help: 'Latency of the container engine\'s create and start, by operation and result',
    labelNames: ['operation', 'result'], buckets: CONTAINER_BUCKETS, registers,
  });
  const callbacks = new client.Counter({
    name: 'berth_callback_deliveries_total', help: 'Callback delivery attempts, by subject (task, workflow) and result (delivered, failed)',
    labelNames: ['subject', 'result'], registers,
  });
  const webhooks = new client.Counter({
    name: 'berth_webhook_deliveries_total', help: 'Inbound webhook deliveries, by configured webhook and result',
    labelNames: ['webhook', 'result'], registers,
  });
  for (const runner of options.runners) {
    submitted.inc({ runner }, 0);
    for (const status of ['succeeded', 'failed', 'cancelled'] satisfies FinalStatus[]) finished.inc({ runner, status }, 0);
  }
  for (const subject of ['task', 'workflow'] satisfies CallbackSubject[]) {
    for (const result of ['delivered', 'failed']) callbacks.inc({ subject, result }, 0);
  }

  const newScrape = options.figures === undefined ? () => undefined : registerFigures(registers, options.runners, options.figures, options.onFiguresError);
  // One scrape at a time: a second one starting mid-way would reset the figures the first is reading.
  let scraping: Promise<unknown> = Promise.resolve();

  return {
    contentType: registry.contentType,
    render: () => {
      const scrape = scraping.then(() => {
        newScrape();
        return registry.metrics();
      });
      scraping = scrape.catch(() => undefined);
      return scrape;
    },
    submitted: (runner) => submitted.inc({ runner }),
    started(runner, queuedMs) {
      if (queuedMs !== null) queueWait.observe({ runner }, Math.max(0, queuedMs) / 1000);
    },
    finished(runner, status, durationMs) {
      finished.inc({ runner, status });
      if (durationMs !== null) duration.observe({ runner, status }, Math.max(0, durationMs) / 1000);
    },
    containerOp: (operation, durationMs, ok) => containerOps.observe({ operation, result: ok ? 'ok' : 'error' }, durationMs / 1000),
    callbackDelivery: (subject, ok) => callbacks.inc({ subject, result: ok ? 'delivered' : 'failed' }),
    webhookDelivery: (webhook, result) => webhooks.inc({ webhook, result }),
  };
}


/**
 * The gauges read from the database. Every gauge of one scrape shares one read (registry.metrics()
 * collects them one after another); the function returned starts a new scrape, so a scrape never
 * shows figures read for an earlier one.
 */
function registerFigures(
  registers: client.Registry[], runners: readonly string[], read: () => Promise<DatabaseFigures>, onError?: (error: unknown) => void,
): () => void {
  let last: Promise<DatabaseFigures | null> | undefined;
  const current = (): Promise<DatabaseFigures | null> => {
    last ??= read().catch((error: unknown) => { onError?.(error); return null; });
    return last;
  };
  /** Every configured runner has a value (0 when it has no row); so has any other runner the database still holds. */
  const perRunner = (figures: DatabaseFigures, pick: (row: DatabaseFigures['runners'][number]) => number): Map<string, number> => {
    const values = new Map(runners.map((runner) => [runner, 0]));
    for (const row of figures.runners) values.set(row.runner, pick(row));
    return values;
  };

  new client.Gauge({
    name: 'berth_figures_up', help: 'Whether this scrape could read the database figures (queue, running, workflow runs): 1 or 0',
    registers,
    async collect() { this.set((await current()) === null ? 0 : 1); },
  });
  const gauge = (name: string, help: string, pick: (row: DatabaseFigures['runners'][number]) => number): void => {
    new client.Gauge({
      name, help, labelNames: ['runner'], registers,
      async collect() {
        this.reset();
        const figures = await current();
        if (figures === null) return;
        for (const [runner, value] of perRunner(figures, pick)) this.set({ runner }, value);
      },
    });
  };
  gauge('berth_queue_depth', 'Queued tasks whose start time has come (waiting for a worker or a slot), by runner', (row) => row.queued);
  gauge('berth_queue_oldest_age_seconds', 'How long the longest-waiting due queued task has waited, by runner (0: none waits)', (row) => row.oldestQueuedSeconds);
  gauge('berth_tasks_running', 'Tasks running now, by runner', (row) => row.running);
  new client.Gauge({
    name: 'berth_workflow_runs', help: 'Workflow runs the database holds (finished ones until retention removes them), by status',
    labelNames: ['status'], registers,
    async collect() {
      this.reset();
      const figures = await current();
      if (figures === null) return;
      const counts = new Map(['running', 'succeeded', 'failed', 'cancelled'].map((status) => [status, 0]));
      for (const row of figures.workflowRuns) counts.set(row.status, row.count);
      for (const [status, count] of counts) this.set({ status }, count);
    },
  });
  return () => { last = undefined; };
}
