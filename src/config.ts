/**
 * Process configuration from the environment, parsed once at an entry point into a frozen object.
 * Every problem is reported at once; nothing else in Berth reads process.env.
 * (Runners come from the YAML file, see runners/load-runners.ts.)
 */
import path from 'node:path';
import { parseDuration, parseSize } from './units.ts';

export interface Config {
  /** Unset means: start an embedded PostgreSQL in dataDir. */
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly embeddedPostgresPort: number;
  readonly port: number;
  readonly host: string;
  /** As Docker clients read it; unset means /var/run/docker.sock. */
  readonly dockerHost: string | undefined;
  readonly runnersFile: string;
  readonly workerConcurrency: number;
  readonly bodyLimitBytes: number;
  /** POST /tasks/batch carries up to 1,000 tasks, so it has a limit of its own. */
  readonly batchBodyLimitBytes: number;
  /** Most requests one API process holds at once (wait=, Prefer: wait, follow=). */
  readonly heldLimit: number;
  readonly outputLimitBytes: number;
  readonly logLimitBytes: number;
  readonly shutdownGraceMs: number;
  readonly logLevel: string;
  /** How long a running attempt may go without a heartbeat before it counts as lost. */
  readonly leaseMs: number;
  /** Finished tasks are deleted after this long; at least a day, so idempotency keys last 24 hours. */
  readonly retentionMs: number;
  /** Label value marking this deployment's containers; unset: derived from the database (deployment.ts). */
  readonly instance: string | undefined;
  /** Whether the API's /readyz also checks the engine: off where the API has no engine socket (compose). */
  readonly readyzChecksEngine: boolean;
  /** A test hook: schedules' cron expressions may have a leading seconds field, so tests need not wait minutes. */
  readonly cronSeconds: boolean;
  /** The worker's port for /metrics, /healthz and /readyz (on metricsHost); unset: the worker serves no HTTP. 0: any free port. */
  readonly metricsPort: number | undefined;
  /**
   * Where that port listens: loopback unless set, since it has no key (HOST is for the API, which
   * refuses to listen beyond loopback without keys; the worker's figures would not).
   */
  readonly metricsHost: string;
}

export class EnvConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid environment:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'EnvConfigError';
    this.problems = problems;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Reads the environment; `overrides.runnersFile` is the CLI's --config, which wins over BERTH_CONFIG. */
export function loadConfig(env: Env, overrides: { runnersFile?: string; cwd?: string } = {}): Config {
  const problems: string[] = [];
  const cwd = overrides.cwd ?? process.cwd();
  const read = <T>(name: string, fallback: T, parse: (raw: string) => T | undefined, expected: string): T => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = parse(raw);
    if (value === undefined) {
      problems.push(`${name}: ${expected} (got ${JSON.stringify(raw)})`);
      return fallback;
    }
    return value;
  };

  const config: Config = {
    databaseUrl: read('DATABASE_URL', undefined, parseDatabaseUrl, 'must be a postgres:// or postgresql:// URL'),
    dataDir: path.resolve(cwd, env['BERTH_DATA_DIR'] || '.berth'),
    embeddedPostgresPort: read('BERTH_EMBEDDED_PG_PORT', 54329, parsePort, 'must be a TCP port (1-65535)'),
    port: read('PORT', 3000, parsePortOrZero, 'must be a TCP port (0-65535)'),
    host: env['HOST'] || '127.0.0.1',
    dockerHost: env['DOCKER_HOST'] || undefined,
    runnersFile: path.resolve(cwd, overrides.runnersFile ?? (env['BERTH_CONFIG'] || 'berth.yaml')),
    workerConcurrency: read('BERTH_WORKER_CONCURRENCY', 4, parsePositiveInt, 'must be a positive integer'),
    bodyLimitBytes: read('BERTH_BODY_LIMIT', 1024 * 1024, parseBytes, 'must be a size such as 1048576 or "1MiB"'),
    batchBodyLimitBytes: read('BERTH_BATCH_BODY_LIMIT', 16 * 1024 * 1024, parseBytes, 'must be a size such as "16MiB"'),
    heldLimit: read('BERTH_HELD_LIMIT', 1_000, parsePositiveInt, 'must be a positive integer'),
    outputLimitBytes: read('BERTH_OUTPUT_LIMIT', 10 * 1024 * 1024, parseBytes, 'must be a size such as "10MiB"'),
    logLimitBytes: read('BERTH_LOG_LIMIT', 1024 * 1024, parseBytes, 'must be a size such as "1MiB"'),
    shutdownGraceMs: read('BERTH_SHUTDOWN_GRACE', 30_000, parseSecondsOrDuration, 'must be seconds or a duration such as "30s"'),
    leaseMs: read('BERTH_LEASE', 30_000, (raw) => atLeast(parseSecondsOrDuration(raw), 2_000), 'must be a duration of at least 2s'),
    retentionMs: read('BERTH_RETENTION', 7 * DAY_MS, (raw) => atLeast(parseSecondsOrDuration(raw), DAY_MS), 'must be a duration of at least 24h'),
    instance: read<string | undefined>('BERTH_INSTANCE', undefined, (raw) => (/^[\w.-]{1,63}$/.test(raw) ? raw : undefined), 'must be 1-63 letters, digits, ".", "_" or "-"'),
    readyzChecksEngine: read('BERTH_READYZ_ENGINE', true, parseBoolean, 'must be true or false'),
    cronSeconds: read('BERTH_TEST_CRON_SECONDS', false, (raw) => (raw === '1' ? true : raw === '0' ? false : undefined), 'must be 1 or 0'),
    logLevel: read('LOG_LEVEL', 'info', (raw) => (LOG_LEVELS.includes(raw) ? raw : undefined), `must be one of ${LOG_LEVELS.join(', ')}`),
    metricsPort: read<number | undefined>('BERTH_METRICS_PORT', undefined, parsePortOrZero, 'must be a TCP port (0-65535)'),
    metricsHost: env['BERTH_METRICS_HOST'] || '127.0.0.1',
  };
  if (config.metricsPort !== undefined && config.metricsPort !== 0 && config.metricsPort === config.port) {
    // `berth start` runs the API and the worker in one process, on one HOST: both cannot have the port.
    problems.push(`BERTH_METRICS_PORT: must differ from PORT (${config.port}), which the API listens on`);
  }
  if (problems.length > 0) throw new EnvConfigError(problems);
  return Object.freeze(config);
}

function parseDatabaseUrl(raw: string): string | undefined {
  return /^postgres(ql)?:\/\//.test(raw) ? raw : undefined;
}

const DAY_MS = 24 * 60 * 60 * 1000;

function atLeast(value: number | undefined, minimum: number): number | undefined {
  return value !== undefined && value >= minimum ? value : undefined;
}

function parseBoolean(raw: string): boolean | undefined {
  return raw === 'true' ? true : raw === 'false' ? false : undefined;
}

function parsePositiveInt(raw: string): number | undefined {
  const value = Number(raw);
  return /^\d+$/.test(raw) && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

function parsePort(raw: string): number | undefined {
  const value = parsePositiveInt(raw);
  return value !== undefined && value <= 65535 ? value : undefined;
}

function parsePortOrZero(raw: string): number | undefined {
  return raw === '0' ? 0 : parsePort(raw);
}

function parseBytes(raw: string): number | undefined {
  const value = /^\d+$/.test(raw) ? Number(raw) : parseSize(raw);
  return value !== undefined && value > 0 ? value : undefined;
}

function parseSecondsOrDuration(raw: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(raw)) return Number(raw) * 1000;
  return parseDuration(raw);
}
