/**
 * Makes a tiny busybox image inside the engine without any registry: the tests and the README
 * quickstart need an image, and the machines Berth is developed on cannot pull. The root filesystem
 * (a static busybox plus applet symlinks, /tmp, /etc/passwd) is built in memory and imported over
 * the Engine API, which Docker and Podman's compat API both accept.
 *
 * Test and example tooling, not part of Berth (hence here, and tar-stream a dev dependency).
 * Speaks plain HTTP to the engine (src/engine/engine-socket.ts) so the Docker adapter stays the only dockerode
 * user.
 * Not a general image builder: it owns exactly this one image layout.
 */
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

/** Imports `ref` (e.g. `berth-test/busybox:1`) unless the engine already has it. */
export async function ensureBusyboxImage(
  dockerHost: string | undefined,
  ref: string,
  busyboxPath = '/bin/busybox',
): Promise<void> {
  const address = resolveEngineAddress(dockerHost);
  if (await hasImage(address, ref)) return;
  const busybox = await readFile(busyboxPath);
  assertStaticElf(busybox, busyboxPath);
  const rootfs = await buildRootfsTar(busybox);
  await importRootfs(address, ref, rootfs);
  // Engines differ in how they name an import (Podman 4 ignored `tag`); make sure `ref` now resolves.
  if (!(await hasImage(address, ref))) throw new Error(`image ${ref} was imported but the engine does not find it by that name`);
}

async function hasImage(address: EngineAddress, ref: string): Promise<boolean> {
  const path = `/images/${encodeURIComponent(ref)}/json`;
  const response = await engineRequest(address, 'GET', path).catch((cause: unknown) => {
    throw new Error(`container engine at ${JSON.stringify(address)} is not reachable`, { cause });
  });
  if (response.status === 200) return true;
  if (response.status === 404) return false;
  throw new Error(`checking for image ${ref} failed: HTTP ${response.status} ${response.body.toString()}`);
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

async function buildRootfsTar(busybox: Buffer): Promise<Buffer> {
  const tar = pack();
  const collected = buffer(tar);
  const mtime = new Date(0);
  for (const dir of ['bin', 'etc', 'root', 'proc', 'sys', 'dev']) {
    tar.entry({ name: dir, type: 'directory', mode: 0o755, mtime });
  }
  // Sticky and world-writable, as programs running as nobody expect of /tmp.
  tar.entry({ name: 'tmp', type: 'directory', mode: 0o1777, mtime });
  tar.entry({ name: 'bin/busybox', mode: 0o755, mtime }, busybox);
  for (const applet of APPLETS) {
    tar.entry({ name: `bin/${applet}`, type: 'symlink', linkname: 'busybox', mode: 0o777, mtime });
  }
  tar.entry({ name: 'etc/passwd', mode: 0o644, mtime }, PASSWD);
  tar.entry({ name: 'etc/group', mode: 0o644, mtime }, GROUP);
  tar.finalize();
  return collected;
}

async function importRootfs(address: EngineAddress, ref: string, rootfs: Buffer): Promise<void> {
  // The whole reference goes in `repo` (the API allows a tag there): Podman 4's compat import
  // ignores the separate `tag` parameter and would name the image `:latest`.
  const query = new URLSearchParams({ fromSrc: '-', repo: ref, changes: 'CMD ["/bin/sh"]' });
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
