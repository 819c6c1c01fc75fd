/**
 * Berth as an operator runs it: `node src/cli.ts serve|worker` in child processes with the bench's
 * database, runners file and engine. Also what the benchmark reads from the outside: the API's
 * listening port and each process's resident memory, both from /proc.
 *
 * LOG_LEVEL=warn keeps per-request logging out of the measurement, which also hides the info-level
 * 'berth is listening' line; with PORT=0 the port is therefore read from the process's own
 * listening socket (/proc/<pid>/fd → /proc/net/tcp), which exists exactly once the API listens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir, readlink } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { BENCH_INSTANCE } from './engine-target.ts';

/** A --trace-gc line of a full GC: "Mark-Compact 85.2 (120.3) -> 64.1 (118.0) MB" (used (committed) before -> after). */
const FULL_GC = /Mark-Compact(?: \(reduce\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB/;

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
export const RUNNERS_FILE = fileURLToPath(new URL('./berth.yaml', import.meta.url));

export interface BerthChild {
  readonly role: 'serve' | 'worker';
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout+stderr so far (warnings and errors only, at LOG_LEVEL=warn). */
  output(): string;
  /**
   * V8 heap in use after the latest full (mark-compact) GC, in MiB, when the process runs with
   * --trace-gc: unlike RSS it does not include the room V8 keeps for growth, so a leak shows here.
   */
  heapAfterFullGcMiB(): number | undefined;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
}

export interface BerthEnv {
  readonly databaseUrl: string;
  readonly dockerHost: string;
  readonly workerConcurrency: number;
  /** Extra node options for the child, e.g. ['--cpu-prof', '--cpu-prof-dir=…'] when profiling. */
  readonly nodeArgs?: readonly string[];
}

export function spawnBerth(role: 'serve' | 'worker', env: BerthEnv): BerthChild {
  const child = spawn(process.execPath, [...(env.nodeArgs ?? []), CLI, role], {
    env: {
      PATH: process.env['PATH'] ?? '',
      DATABASE_URL: env.databaseUrl,
      DOCKER_HOST: env.dockerHost,
      BERTH_CONFIG: RUNNERS_FILE,
      BERTH_WORKER_CONCURRENCY: String(env.workerConcurrency),
      BERTH_INSTANCE: BENCH_INSTANCE,
      LOG_LEVEL: 'warn',
      PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let partial = '';
  let heapAfterFullGc: number | undefined;
  const keep = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const gc = FULL_GC.exec(line);
      if (gc !== null) heapAfterFullGc = Number(gc[1]);
      else output = (output + line + '\n').slice(-64 * 1024);
    }
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  if (child.pid === undefined) throw new Error(`could not start berth ${role}`);
  return {
    role,
    child,
    pid: child.pid,
    output: () => output + partial,
    heapAfterFullGcMiB: () => heapAfterFullGc,
    async stop(timeoutMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Starts `berth serve` and resolves with its base URL once it listens. */
export async function startApi(env: BerthEnv): Promise<{ process: BerthChild; url: string }> {
  const api = spawnBerth('serve', env);
  try {
    const port = await listeningPort(api, 60_000);
    return { process: api, url: `http://127.0.0.1:${port}` };
  } catch (error) {
    await api.stop();
    throw error;
  }
}

/** Polls the child's sockets for a TCP listener (it appears when app.listen() returns). */
async function listeningPort(berth: BerthChild, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (berth.child.exitCode !== null) throw new Error(`berth ${berth.role} exited with ${berth.child.exitCode}:\n${berth.output()}`);
    const port = await findListeningPort(berth.pid).catch(() => undefined);
    if (port !== undefined) return port;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`berth ${berth.role} did not listen within ${timeoutMs} ms:\n${berth.output()}`);
}

async function findListeningPort(pid: number): Promise<number | undefined> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const match = /^socket:\[(\d+)\]$/.exec(link);
    if (match !== null) inodes.add(match[1]!);
  }
  for (const table of ['tcp', 'tcp6']) {
    const text = await readFile(`/proc/${pid}/net/${table}`, 'utf8');
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // st 0A = LISTEN; local_address is HEX_IP:HEX_PORT; column 9 is the inode.
      if (cols[3] === '0A' && inodes.has(cols[9] ?? '')) return parseInt(cols[1]!.split(':')[1]!, 16);
    }
  }
  return undefined;
}

/** VmRSS of a process in MiB, from /proc/<pid>/status. */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Math.round((Number(kb) / 1024) * 10) / 10;
}
