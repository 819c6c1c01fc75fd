/**
 * Makes a tiny busybox image inside the engine without any registry: the tests and the README
 * quickstart need an image, and the machines Berth is developed on cannot pull. The root filesystem
 * (a static busybox plus applet symlinks, /tmp, /etc/passwd) is built in memory and imported over
 * the Engine API, which Docker and Podman's compat API both accept.
 *
 * Test and example tooling, not part of Berth (hence here, and tar-stream a dev dependency).
 * Speaks plain HTTP to the engine (src/engine/engine-socket.ts) so the Docker adapter stays the only dockerode
 * user.
 * Not a general image builder: it owns exactly this one image layout, to which the example runners'
 * images add their script files (`files`) and their command (`cmd`), and the Node base image
 * (node-base-image.ts) Node, its libraries and npm.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import { pack } from 'tar-stream';
import { engineRequest, resolveEngineAddress, type EngineAddress } from '../src/engine/engine-socket.ts';

const APPLETS = [
  'sh', 'ash', 'cat', 'echo', 'sleep', 'head', 'tail', 'tr', 'wc', 'printf', 'env', 'yes', 'true',
  'false', 'dd', 'sed', 'awk', 'grep', 'id', 'ls', 'kill', 'seq', 'test', '[', 'mkdir', 'rm', 'cp',
  'mv', 'touch', 'chmod', 'ps', 'sort', 'uniq', 'cut', 'tee', 'xargs', 'find', 'date', 'pwd',
  'uname', 'whoami', 'hostname', 'base64', 'md5sum', 'sha256sum', 'od', 'stat', 'timeout', 'expr',
  'basename', 'dirname', 'readlink', 'nproc', 'which',
];

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
const GROUP = 'root:x:0:\nnogroup:x:65534:\n';

/** A file added to the image's root filesystem; `path` is relative to `/` (e.g. `app/run.sh`). */
export interface ImageFile {
  readonly path: string;
  readonly content: Buffer | string;
  readonly mode?: number;
  /** Makes it a symbolic link to this target instead (content unused). */
  readonly linkTo?: string;
}

export interface BusyboxImageOptions {
  readonly busyboxPath?: string;
  /** Files added on top of the busybox layout; their folders are created (mode 0755). */
  readonly files?: readonly ImageFile[];
  /** The image's command; default `["/bin/sh"]`. */
  readonly cmd?: readonly string[];
  /** The image's environment (ENV). */
  readonly env?: Readonly<Record<string, string>>;
}

/** Label carrying the sha256 of the imported root filesystem and command. */
const CONTENT_LABEL = 'berth.image.content';

/**
 * Imports `ref` (e.g. `berth-test/busybox:1`) unless the engine already has it with the same
 * content. The root filesystem is built the same way each time (fixed mtimes), so its digest,
 * kept in a label, tells an up-to-date image from one made of older files: an edited example
 * script is imported again, an unchanged one is not.
 */
export async function ensureBusyboxImage(
  dockerHost: string | undefined,
  ref: string,
  options: BusyboxImageOptions = {},
): Promise<void> {
  const address = resolveEngineAddress(dockerHost);
  const busyboxPath = options.busyboxPath ?? '/bin/busybox';
  const busybox = await readFile(busyboxPath);
  assertStaticElf(busybox, busyboxPath);
  const rootfs = await buildRootfsTar(busybox, options.files ?? []);
  const cmd = options.cmd ?? ['/bin/sh'];
  const env = Object.entries(options.env ?? {}).map(([name, value]) => `ENV ${name}=${value}`);
  const content = createHash('sha256').update(rootfs).update(JSON.stringify(cmd)).update(env.join('\n')).digest('hex');
  if ((await imageLabels(address, ref))?.[CONTENT_LABEL] === content) return;
  await importRootfs(address, ref, rootfs, [`CMD ${JSON.stringify(cmd)}`, ...env, `LABEL ${CONTENT_LABEL}=${content}`]);
  // Engines differ in how they name an import (Podman 4 ignored `tag`); make sure `ref` now resolves.
  const labels = await imageLabels(address, ref);
  if (labels === undefined) throw new Error(`image ${ref} was imported but the engine does not find it by that name`);
  if (labels[CONTENT_LABEL] !== content) throw new Error(`image ${ref} was imported but does not carry its ${CONTENT_LABEL} label`);
}

/** The image's labels, or undefined when the engine has no image by that name. */
async function imageLabels(address: EngineAddress, ref: string): Promise<Record<string, string> | undefined> {
  const path = `/images/${encodeURIComponent(ref)}/json`;
  const response = await engineRequest(address, 'GET', path).catch((cause: unknown) => {
    throw new Error(`container engine at ${JSON.stringify(address)} is not reachable`, { cause });
  });
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw new Error(`checking for image ${ref} failed: HTTP ${response.status} ${response.body.toString()}`);
  const image = JSON.parse(response.body.toString()) as { Config?: { Labels?: Record<string, string> | null } };
  return image.Config?.Labels ?? {};
}

/**
 * A dynamically linked busybox would import fine and then fail in every container with a cryptic
 * "no such file or directory" (the missing loader), so refuse it up front. Static means: an ELF file
 * without a PT_INTERP program header.
 */
export function assertStaticElf(file: Buffer, path: string): void {
  if (file.length < 64 || file.readUInt32BE(0) !== 0x7f454c46) {
    throw new Error(`${path} is not an ELF executable; a static busybox binary is required`);
  }
  const is64 = file[4] === 2;
  const little = file[5] === 1;
  const u16 = (at: number): number => (little ? file.readUInt16LE(at) : file.readUInt16BE(at));
  const u32 = (at: number): number => (little ? file.readUInt32LE(at) : file.readUInt32BE(at));
  const phoff = is64 ? Number(little ? file.readBigUInt64LE(0x20) : file.readBigUInt64BE(0x20)) : u32(0x1c);
  const phentsize = u16(is64 ? 0x36 : 0x2a);
  const phnum = u16(is64 ? 0x38 : 0x2c);
  const PT_INTERP = 3;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > file.length) throw new Error(`${path} has a truncated ELF program header table`);
    if (u32(at) === PT_INTERP) {
      throw new Error(`${path} is dynamically linked; a static busybox binary is required (e.g. busybox-static)`);
    }
  }
}

async function buildRootfsTar(busybox: Buffer, files: readonly ImageFile[]): Promise<Buffer> {
  const tar = pack();
  const collected = buffer(tar);
  const mtime = new Date(0);
  const dirs = new Set(['bin', 'etc', 'root', 'proc', 'sys', 'dev']);
  for (const file of files) {
    const parts = file.path.split('/').slice(0, -1);
    parts.forEach((_, i) => dirs.add(parts.slice(0, i + 1).join('/')));
  }
  for (const dir of dirs) {
    tar.entry({ name: dir, type: 'directory', mode: 0o755, mtime });
  }
  // Sticky and world-writable, as programs running as nobody expect of /tmp.
  tar.entry({ name: 'tmp', type: 'directory', mode: 0o1777, mtime });
  tar.entry({ name: 'bin/busybox', mode: 0o755, mtime }, busybox);
  for (const applet of APPLETS) {
    tar.entry({ name: `bin/${applet}`, type: 'symlink', linkname: 'busybox', mode: 0o777, mtime });
  }
  // An image with users of its own (the Node base image's `node`) gives its own passwd and group.
  const given = new Set(files.map((file) => file.path));
  if (!given.has('etc/passwd')) tar.entry({ name: 'etc/passwd', mode: 0o644, mtime }, PASSWD);
  if (!given.has('etc/group')) tar.entry({ name: 'etc/group', mode: 0o644, mtime }, GROUP);
  for (const file of files) {
    if (file.linkTo !== undefined) tar.entry({ name: file.path, type: 'symlink', linkname: file.linkTo, mode: 0o777, mtime });
    else tar.entry({ name: file.path, mode: file.mode ?? 0o644, mtime }, file.content);
  }
  tar.finalize();
  return collected;
}

async function importRootfs(address: EngineAddress, ref: string, rootfs: Buffer, changes: readonly string[]): Promise<void> {
  // The whole reference goes in `repo` (the API allows a tag there): Podman 4's compat import
  // ignores the separate `tag` parameter and would name the image `:latest`.
  const query = new URLSearchParams([['fromSrc', '-'], ['repo', ref], ...changes.map((change) => ['changes', change])]);
  const response = await engineRequest(address, 'POST', `/images/create?${query}`, {
    contentType: 'application/x-tar',
    data: rootfs,
  });
  // The import reports progress as a JSON stream with HTTP 200; a failure may appear only as an
  // {"error": …} line inside it, so check both.
  const errorLine = response.body
    .toString()
    .split('\n')
    .find((line) => /"error(Detail)?"\s*:/.test(line));
  if (response.status !== 200 || errorLine !== undefined) {
    throw new Error(`importing image ${ref} failed: HTTP ${response.status} ${errorLine ?? response.body.toString()}`);
  }
}
