/**
 * Where the CPU goes during a phase: user+system time of the Berth processes, of the PostgreSQL
 * backends serving the bench database, of the engine's daemons, of this (load-generating) process
 * and of the whole machine, read from /proc before and after. On a 2-core machine everyone shares
 * the same cores, so this is the first thing to look at when a throughput figure is low.
 *
 * Process groups are looked up at every snapshot (backends come and go with the pools' idle
 * timeouts) and compared per PID: a process that appeared counts from zero, one that exited drops
 * out (its last moments are lost, a small undercount).
 */
import { readdir, readFile } from 'node:fs/promises';
import pg from 'pg';

const TICKS_PER_SECOND = 100;

/** application_name of the benchmark's own connections to the bench database: not Berth's backends. */
export const BENCH_CONNECTION = 'berth-bench-poll';

/** A group's PIDs, fixed or looked up at each snapshot. */
export type PidSource = readonly number[] | (() => Promise<readonly number[]>);

export interface CpuSnapshot {
  readonly at: number;
  readonly machine: { busy: number; total: number };
  readonly groups: ReadonlyMap<string, ReadonlyMap<number, number>>;
  readonly self: number;
}

/** CPU time in ms per process group over a phase, and the machine's busy share. */
export interface CpuUsage {
  readonly wallMs: number;
  readonly machineBusyPct: number;
  readonly cpuMs: Readonly<Record<string, number>>;
}

async function processTicks(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the comm: field 14 (utime) and 15 (stime) of stat(5) are at index 11 and 12 here.
  return Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
}

async function machineTicks(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

/** Looks up the PostgreSQL backends connected to one database over one kept connection. */
export class BackendPids {
  readonly #client: pg.Client;
  readonly #database: string;
  #connected: Promise<unknown> | undefined;

  constructor(adminUrl: string, database: string) {
    this.#client = new pg.Client({ connectionString: adminUrl, application_name: 'berth-bench-meter' });
    this.#database = database;
  }

  readonly lookup = async (): Promise<number[]> => {
    this.#connected ??= this.#client.connect();
    await this.#connected;
    const { rows } = await this.#client.query<{ pid: number }>(
      'select pid from pg_stat_activity where datname = $1 and application_name is distinct from $2', [this.#database, BENCH_CONNECTION]);
    return rows.map((r) => r.pid);
  };

  async close(): Promise<void> {
    if (this.#connected !== undefined) await this.#client.end();
  }
}

export async function snapshot(groups: Readonly<Record<string, PidSource>>): Promise<CpuSnapshot> {
  const result = new Map<string, Map<number, number>>();
  for (const [name, source] of Object.entries(groups)) {
    const pids = typeof source === 'function' ? await source() : source;
    const ticks = new Map<number, number>();
    for (const pid of pids) {
      const value = await processTicks(pid);
      if (value !== undefined) ticks.set(pid, value);
    }
    result.set(name, ticks);
  }
  const self = process.cpuUsage();
  return { at: performance.now(), machine: await machineTicks(), groups: result, self: ((self.user + self.system) / 1e6) * TICKS_PER_SECOND };
}

export function usageBetween(before: CpuSnapshot, after: CpuSnapshot): CpuUsage {
  const cpuMs: Record<string, number> = {};
  for (const [name, ticks] of after.groups) {
    const earlier = before.groups.get(name);
    let sum = 0;
    for (const [pid, value] of ticks) sum += value - (earlier?.get(pid) ?? 0);
    cpuMs[name] = Math.round((sum * 1000) / TICKS_PER_SECOND);
  }
  cpuMs['bench client'] = Math.round(((after.self - before.self) * 1000) / TICKS_PER_SECOND);
  const total = after.machine.total - before.machine.total;
  return {
    wallMs: Math.round(after.at - before.at),
    machineBusyPct: total === 0 ? 0 : Math.round(((after.machine.busy - before.machine.busy) * 100) / total),
    cpuMs,
  };
}

/** The engine's long-lived daemons (dockerd and containerd, or the Podman API service): their CPU per task. */
export async function enginePids(engine: 'docker' | 'podman'): Promise<number[]> {
  const names = engine === 'docker' ? ['dockerd', 'containerd'] : ['podman'];
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = (await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '')).trim();
    if (names.includes(comm)) pids.push(Number(entry));
  }
  return pids;
}
