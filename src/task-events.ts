/**
 * Task events: one notification path per process, so waiting requests, live-log streams and
 * workers learn about changes without each polling the database.
 *
 * Writers call publishTaskEvent inside their own transaction; PostgreSQL delivers the NOTIFY at
 * commit and drops it on rollback. Each process holds ONE dedicated LISTEN connection (a plain
 * pg.Client: a pooled connection would be handed back and lose its LISTEN) and fans events out
 * in memory.
 *
 * What this does not promise: delivery. Notifications sent while the connection is down are lost,
 * and identical notifications inside one transaction are collapsed by PostgreSQL. So an event only
 * means "re-read the task"; after every (re)connect subscribers get 'resync' and must re-read
 * whatever they wait on. The tables stay the truth.
 */
import pg from 'pg';
import { prepared, type Queryable } from './db.ts';
import type { Logger } from './logger.ts';

export const TASK_EVENTS_CHANNEL = 'berth_task_events';
/** 'final': succeeded/failed/cancelled; 'log': new log output stored; 'status': any other state change. */
export type TaskEventKind = 'final' | 'log' | 'status';
const KINDS: ReadonlySet<string> = new Set<TaskEventKind>(['final', 'log', 'status']);

/** The backend's application_name, so operators (and tests) can find the LISTEN connection. */
export const TASK_EVENTS_APPLICATION_NAME = 'berth-events';
/*
 * A silently dead connection (peer gone without FIN/RST: host crash, NAT or firewall dropping
 * state) never errors on an idle LISTEN socket. A periodic `select 1` with a read timeout finds it
 * within interval + timeout (default 10 s + 5 s). TCP keepalive was not chosen: Node can set only
 * the idle time, the probe interval and count stay at OS defaults (Linux: 75 s x 9), so detection
 * would take minutes, and it cannot see a backend that is reachable but stuck.
 */
const DEFAULT_HEARTBEAT_MS = { interval: 10_000, timeout: 5_000 };
const CONNECT_TIMEOUT_MS = 5_000;

export async function publishTaskEvent(db: Queryable, taskId: string, kind: TaskEventKind): Promise<void> {
  const { channel, payload } = taskEventNotice(taskId, kind);
  await db.query(prepared('select pg_notify($1, $2)', [channel, payload]));
}

/** The NOTIFY of an event, for a statement that sends it itself (pg_notify(channel, payload)). */
export function taskEventNotice(taskId: string, kind: TaskEventKind): { channel: string; payload: string } {
  return { channel: TASK_EVENTS_CHANNEL, payload: `${kind}:${taskId}` };
}

export interface TaskEvents {
  /**
   * Whether a 'final' event for the task came in the last RECENT_FINAL_MS. Lets a waiter that
   * subscribes just after reading a task at its own commit skip re-reading it: an end between
   * that commit and the subscription is remembered here.
   */
  endedRecently(taskId: string): boolean;
  /** Events for one task; 'resync' after a reconnect. Returns the unsubscribe function. */
  subscribe(taskId: string, listener: (kind: TaskEventKind | 'resync') => void): () => void;
  subscribeAll(listener: (taskId: string, kind: TaskEventKind) => void): () => void;
  /** Called after every reconnect, when events may have been missed. */
  onResync(listener: () => void): () => void;
  /** Notifications on one of the other channels this connection was started to listen on (noticeChannels). */
  onNotice(channel: string, listener: (payload: string | undefined) => void): () => void;
  readonly connected: boolean;
  /** Stops reconnecting and ends the connection; no listener is called afterwards. */
  close(): Promise<void>;
}

/** How long, and for how many tasks at most, 'final' events are remembered (endedRecently). */
const RECENT_FINAL_MS = 10_000;
const RECENT_FINAL_MAX = 10_000;

type TaskListener = (kind: TaskEventKind | 'resync') => void;
type AllListener = (taskId: string, kind: TaskEventKind) => void;
/** Each subscription gets its own entry, so one function subscribed twice is called twice. */
type Entries<T> = Set<{ fn: T }>;

function addEntry<T>(entries: Entries<T>, fn: T): () => void {
  const entry = { fn };
  entries.add(entry);
  return () => void entries.delete(entry);
}

export async function startTaskEvents(options: {
  connectionString: string;
  logger: Logger;
  reconnectDelayMs?: { initial: number; max: number };
  /** How often the connection is probed and how long a probe (or LISTEN) may take. */
  heartbeatMs?: { interval: number; timeout: number };
  /** Other channels to listen on, whose notifications carry no task (a worker's job wake-ups: queue.ts). */
  noticeChannels?: readonly string[];
}): Promise<TaskEvents> {
  const { connectionString, logger } = options;
  const delays = options.reconnectDelayMs ?? { initial: 100, max: 5_000 };
  const probe = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const byTask = new Map<string, Entries<TaskListener>>();
  const allListeners: Entries<AllListener> = new Set();
  const resyncListeners: Entries<() => void> = new Set();
  const noticeListeners = new Map<string, Entries<(payload: string | undefined) => void>>();
  for (const channel of options.noticeChannels ?? []) {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a plain channel name: ${JSON.stringify(channel)}`);
    noticeListeners.set(channel, new Set());
  }
  // Insertion order is arrival order, so the oldest entries are first: trimmed from the front.
  const recentFinals = new Map<string, number>();
  let client: pg.Client | undefined;
  let connecting: Promise<void> | undefined;
  let connected = false;
  let closed = false;
  let inOutage = false;
  let failures = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;

  // Listeners belong to other features; one that throws must not stop the rest or the connection.
  function call(what: string, fn: () => void): void {
    if (closed) return;
    try {
      fn();
    } catch (error) {
      logger.error({ err: error, listener: what }, 'task event listener failed');
    }
  }

  function dispatch(payload: string | undefined): void {
    const separator = payload?.indexOf(':') ?? -1;
    const kind = payload?.slice(0, separator);
    const taskId = payload?.slice(separator + 1);
    if (payload === undefined || separator < 1 || !taskId || kind === undefined || !KINDS.has(kind)) {
      logger.warn({ payload, channel: TASK_EVENTS_CHANNEL }, 'ignoring malformed task event');
      return;
    }
    const event = kind as TaskEventKind;
    if (event === 'final') rememberFinal(taskId);
    for (const { fn } of [...(byTask.get(taskId) ?? [])]) call('subscribe', () => fn(event));
    for (const { fn } of [...allListeners]) call('subscribeAll', () => fn(taskId, event));
  }

  function rememberFinal(taskId: string): void {
    const now = Date.now();
    recentFinals.delete(taskId);
    recentFinals.set(taskId, now);
    for (const [id, at] of recentFinals) {
      if (recentFinals.size <= RECENT_FINAL_MAX && now - at <= RECENT_FINAL_MS) break;
      recentFinals.delete(id);
    }
  }

  function resync(): void {
    for (const entries of [...byTask.values()]) {
      for (const { fn } of [...entries]) call('subscribe', () => fn('resync'));
    }
    for (const { fn } of [...resyncListeners]) call('onResync', fn);
  }

  // Only for an established connection (a failed attempt is handled where it is awaited), and
  // idempotent: 'error', 'end' and a failed heartbeat may all report the same loss.
  function lose(lost: pg.Client, error: unknown): void {
    if (lost !== client || !connected) return;
    client = undefined;
    connected = false;
    clearTimeout(heartbeatTimer);
    // end() destroys the socket when a (timed-out) query is still active, so it cannot hang; the
    // loss is already being reported, a teardown error on the dead connection would add nothing.
    lost.end().catch(() => undefined);
    if (!closed) retryLater(error, 'task events connection lost; reconnecting');
  }

  // Logged once per outage: warn when it starts, info when it ends, retries in between at debug.
  function retryLater(error: unknown, warning: string): void {
    if (inOutage) logger.debug({ err: error, failures }, 'task events reconnect failed');
    else logger.warn({ err: error }, warning);
    inOutage = true;
    const delay = Math.min(delays.max, delays.initial * 2 ** failures);
    failures += 1;
    retryTimer = setTimeout(() => void connect(), delay);
    // The owner's close() ends this; a pending retry alone must not keep the process alive.
    retryTimer.unref();
  }

  function heartbeat(target: pg.Client): void {
    heartbeatTimer = setTimeout(() => {
      target.query('select 1').then(() => heartbeat(target), (error: unknown) => lose(target, error));
    }, probe.interval);
    heartbeatTimer.unref();
  }

  async function attempt(): Promise<void> {
    const next = new pg.Client({
      connectionString,
      application_name: TASK_EVENTS_APPLICATION_NAME,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: probe.timeout,
    });
    client = next;
    next.on('error', (error) => lose(next, error));
    next.on('end', () => lose(next, new Error('task events connection ended')));
    next.on('notification', (message) => {
      if (next !== client) return;
      if (message.channel === TASK_EVENTS_CHANNEL) dispatch(message.payload);
      for (const { fn } of [...(noticeListeners.get(message.channel) ?? [])]) call('onNotice', () => fn(message.payload));
    });
    try {
      await next.connect();
      await next.query(`listen ${TASK_EVENTS_CHANNEL}`);
      for (const channel of noticeListeners.keys()) await next.query(`listen ${channel}`);
    } catch (error) {
      if (closed) return; // close() took this client and ends it
      client = undefined;
      next.end().catch(() => undefined);
      retryLater(error, 'task events connection failed; retrying in the background');
      return;
    }
    if (closed) return;
    connected = true;
    failures = 0;
    if (inOutage) logger.info('task events connection re-established');
    inOutage = false;
    heartbeat(next);
    // Harmless on the first connect (nobody has subscribed yet); required after every other one.
    resync();
  }

  function connect(): Promise<void> {
    connecting = attempt().finally(() => {
      connecting = undefined;
    });
    return connecting;
  }

  await connect();

  return {
    endedRecently(taskId) {
      const at = recentFinals.get(taskId);
      return at !== undefined && Date.now() - at <= RECENT_FINAL_MS;
    },
    subscribe(taskId, listener) {
      const entries: Entries<TaskListener> = byTask.get(taskId) ?? new Set();
      byTask.set(taskId, entries);
      const remove = addEntry(entries, listener);
      return () => {
        remove();
        if (entries.size === 0 && byTask.get(taskId) === entries) byTask.delete(taskId);
      };
    },
    subscribeAll: (listener) => addEntry(allListeners, listener),
    onResync: (listener) => addEntry(resyncListeners, listener),
    onNotice(channel, listener) {
      const entries = noticeListeners.get(channel);
      if (entries === undefined) throw new Error(`the events connection does not listen on ${channel}`);
      return addEntry(entries, listener);
    },
    get connected() {
      return connected;
    },
    async close() {
      if (closed) return;
      closed = true;
      connected = false;
      clearTimeout(retryTimer);
      clearTimeout(heartbeatTimer);
      byTask.clear();
      recentFinals.clear();
      allListeners.clear();
      resyncListeners.clear();
      noticeListeners.clear();
      const current = client;
      client = undefined;
      await Promise.all([current?.end(), connecting?.catch(() => undefined)]);
    },
  };
}
