/**
 * The machine a result came from, for RESULTS.md: cores, memory, CPU model, engine, PostgreSQL,
 * Node and the Berth commit (marked when src/ has uncommitted changes, since the figures then
 * describe code that no commit holds).
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { postgresVersion } from './database.ts';
import { describeEngine, type EngineTarget } from './engine-target.ts';

export interface MachineDescription {
  readonly cores: number;
  readonly memoryGiB: number;
  readonly cpuModel: string;
  readonly kernel: string;
  readonly engine: string;
  readonly engineSocket: string;
  readonly postgres: string;
  readonly node: string;
  readonly berthCommit: string;
}

const REPO = fileURLToPath(new URL('..', import.meta.url));

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

export function berthCommit(): string {
  const commit = git(['rev-parse', '--short=12', 'HEAD']) || 'unknown';
  const dirty = git(['status', '--porcelain', '--', 'src', 'migrations']) !== '';
  return dirty ? `${commit} + uncommitted changes in src/` : commit;
}

export async function describeMachine(target: EngineTarget): Promise<MachineDescription> {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    kernel: `${os.type()} ${os.release()}`,
    engine: await describeEngine(target),
    engineSocket: target.dockerHost,
    postgres: await postgresVersion(),
    node: process.version,
    berthCommit: berthCommit(),
  };
}
