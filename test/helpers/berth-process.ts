/**
 * Berth as a user runs it: the real CLI in a child process. Waits for readiness by reading its
 * JSON log lines, never by sleeping.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

export interface BerthProcess {
  readonly child: ChildProcess;
  /** stdout+stderr so far, for assertions and failure messages. */
  output(): string;
  /** Resolves with the first log line whose msg matches. */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

export interface SpawnOptions {
  /** Another checkout's src/cli.ts (default: this one's). */
  readonly cli?: string;
  readonly cwd?: string;
  /** Run as this user (the test process must be root). */
  readonly uid?: number;
  readonly gid?: number;
}

export function spawnBerth(args: readonly string[], env: Record<string, string>, options: SpawnOptions = {}): BerthProcess {
  return spawnBerthCommand(process.execPath, [options.cli ?? CLI, ...args], env, options);
}

/** Like spawnBerth, for a command that ends up running Berth (scripts/run.sh). */
export function spawnBerthCommand(command: string, args: readonly string[], env: Record<string, string>, options: SpawnOptions = {}): BerthProcess {
  const child = spawn(command, args, {
    env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
  });
  let output = '';
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    output += text;
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      try { lines.push(JSON.parse(line) as Record<string, unknown>); } catch { /* a line split across chunks; the output keeps it */ }
    }
    for (const wake of waiters) wake();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  return {
    child,
    output: () => output,
    waitForLog(msg, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const line = lines.find((l) => l['msg'] === msg);
          if (line !== undefined) { done(); resolve(line); }
        };
        const timer = setTimeout(() => { done(); reject(new Error(`no log '${msg}' within ${timeoutMs} ms; output:\n${output}`)); }, timeoutMs);
        const onExit = (): void => { done(); reject(new Error(`berth exited before logging '${msg}'; output:\n${output}`)); };
        const done = (): void => { clearTimeout(timer); waiters.delete(check); child.off('exit', onExit); };
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 60_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Polls GET /tasks/{id} until the task is final (or the deadline passes). */
export async function waitForFinal(baseUrl: string, id: string, timeoutMs = 60_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = await (await fetch(`${baseUrl}/tasks/${id}`)).json() as Record<string, any>;
    if (['succeeded', 'failed', 'cancelled'].includes(task['status'])) return task;
    if (Date.now() > deadline) throw new Error(`task ${id} not final after ${timeoutMs} ms: ${JSON.stringify(task)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function waitForStatus(baseUrl: string, id: string, status: string, timeoutMs = 30_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = await (await fetch(`${baseUrl}/tasks/${id}`)).json() as Record<string, any>;
    if (task['status'] === status) return task;
    if (Date.now() > deadline) throw new Error(`task ${id} not ${status} after ${timeoutMs} ms: ${JSON.stringify(task)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function submit(baseUrl: string, runner: string, input?: unknown): Promise<Record<string, any>> {
  const response = await fetch(`${baseUrl}/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input === undefined ? { runner } : { runner, input }),
  });
  if (response.status !== 202) throw new Error(`submit ${runner}: ${response.status} ${await response.text()}`);
  return await response.json() as Record<string, any>;
}
