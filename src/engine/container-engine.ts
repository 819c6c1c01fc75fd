/**
 * The port between the worker and a container engine, in Berth's own types. Only the adapter
 * (docker-engine.ts) knows about dockerode or the Engine API; the worker and tests of pure logic
 * depend on this file alone.
 *
 * Contract of run(): the container is created, fed exactly `stdin` followed by EOF, waited for, and
 * removed on every outcome (success, non-zero exit, timeout, overflow, abort, or an error thrown
 * part-way). Outcomes of the *task* (exit code, timeout, overflow) are returned; failures of the
 * *engine* (unreachable, hung, image missing, create refused) are thrown as EngineError.
 *
 * No call waits forever: an engine that stops answering (a hung daemon that still accepts
 * connections) fails every call, run() included, with EngineError('unresponsive') within the
 * adapter's bounds. A run cut short that way cannot remove its container (the engine is not
 * answering), so the error has containerMayRemain set and whoever retries removes it first.
 */

export interface ContainerSpec {
  /** Unique container name. */
  readonly name: string;
  readonly image: string;
  /** argv; undefined keeps the image's default command. */
  readonly command: readonly string[] | undefined;
  readonly env: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  /** Network mode, always set explicitly: Podman turns an unset mode into a bridge. */
  readonly network: string;
  /** Exact bytes written to the container's stdin before EOF. */
  readonly stdin: Buffer;
  readonly timeoutMs: number;
  /** More stdout than this kills the container and sets stdoutOverflow. */
  readonly stdoutLimitBytes: number;
  /** Only the last this-many bytes of stderr are kept. */
  readonly stderrLimitBytes: number;
  /** The process's user, as the engine's `User`: `uid`, `uid:gid`, or names the image's /etc/passwd knows. */
  readonly user: string;
  /** The root filesystem is mounted read-only; /tmp is a tmpfs either way. */
  readonly readOnlyRootfs: boolean;
  /** The tmpfs mounted on /tmp holds at most this many bytes (charged to the memory limit too). */
  readonly tmpfsBytes: number;
  /** PID 1 is the engine's init (docker-init, Podman's catatonit), which forwards signals and reaps zombies. */
  readonly init: boolean;
  /** Hard memory limit, bytes; swap is never added to it. */
  readonly memoryBytes: number;
  readonly nanoCpus?: number;
  /** Most processes (and threads) the container may hold at once. */
  readonly pids: number;
  /** RLIMIT_NOFILE, soft and hard. */
  readonly nofile: number;
  /** The engine's own log of the container's output (Berth reads it over attach, not from there) stops growing at this size. */
  readonly logBytes: number;
}

export interface ContainerOutcome {
  /** Exit code reported by the engine; null when it never exited normally (e.g. killed before start). */
  readonly exitCode: number | null;
  readonly stdout: Buffer;
  /** The tail of stderr, at most stderrLimitBytes. */
  readonly stderr: Buffer;
  readonly stderrTruncated: boolean;
  readonly timedOut: boolean;
  readonly stdoutOverflow: boolean;
  /**
   * The kernel killed a process of the container for memory. Docker reports it (State.OOMKilled,
   * for any process of the container). Podman 4 never does (podman#13102, fixed in 5.0), so on any
   * engine but Docker a SIGKILL (exit 137) that Berth did not send counts as one too.
   */
  readonly oomKilled: boolean;
  /** The caller's signal aborted the run and the container was killed. */
  readonly aborted: boolean;
  readonly durationMs: number;
}

export interface RunOptions {
  /** Aborting kills the container; run() then resolves with aborted: true. */
  readonly signal?: AbortSignal;
  /** Called with each stderr chunk as it arrives (live logs). */
  readonly onStderr?: (chunk: Buffer) => void;
}

/**
 * unreachable: no connection could be made (nothing listens); unresponsive: the engine took the
 * request, or is still connected, but did not answer within its bound (a hung daemon).
 */
export type EngineErrorReason = 'unreachable' | 'unresponsive' | 'image_not_found' | 'create_failed' | 'engine_failure';

export class EngineError extends Error {
  readonly reason: EngineErrorReason;
  /**
   * The container could not be removed (the engine went away or hung mid-run, or a create went
   * unanswered and may yet be carried out), so it may still exist and even still run. Whoever
   * retries the task must remove it (by its labels) first, or the task runs twice at once.
   */
  readonly containerMayRemain: boolean;
  /** What the container did, when it finished before its removal failed. */
  readonly outcome: ContainerOutcome | undefined;

  constructor(
    reason: EngineErrorReason, message: string,
    options: { cause?: unknown; containerMayRemain?: boolean; outcome?: ContainerOutcome } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EngineError';
    this.reason = reason;
    this.containerMayRemain = options.containerMayRemain ?? false;
    this.outcome = options.outcome;
  }
}

export interface FoundContainer {
  readonly id: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ContainerEngine {
  run(spec: ContainerSpec, options?: RunOptions): Promise<ContainerOutcome>;
  /** Resolves when the engine answers; throws EngineError('unreachable' or 'unresponsive') otherwise. */
  ping(): Promise<void>;
  /** Names of containers (running or not) carrying all of these labels. */
  listContainers(labels: Readonly<Record<string, string>>): Promise<string[]>;
  /** Containers (running or not) carrying all of these labels, with all their labels. */
  findContainers(labels: Readonly<Record<string, string>>): Promise<FoundContainer[]>;
  /** Force-removes every container carrying all of these labels; returns how many were removed. */
  removeContainers(labels: Readonly<Record<string, string>>): Promise<number>;
}
