/**
 * The images of the example runners (examples/berth.yaml), made on an engine from the machine's
 * static busybox and the examples' own script files: no registry and no builder are needed. Each
 * example's Dockerfile builds the same image for those who have them; `files` here and its COPY
 * lines name the same files in the same places.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ensureBusyboxImage, type ImageFile } from './busybox-image.ts';

const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url));

export interface ExampleImage {
  readonly ref: string;
  /** Files under examples/, copied into the image's /app/ by their base name. */
  readonly files: readonly string[];
  readonly cmd?: readonly string[];
}

export const EXAMPLE_IMAGES: readonly ExampleImage[] = [
  { ref: 'berth/busybox:1', files: [] },
  { ref: 'berth/jira-triage:1', files: ['lib/json.awk', 'jira-triage/triage.sh'], cmd: ['/app/triage.sh'] },
  { ref: 'berth/asterisk-call:1', files: ['lib/json.awk', 'asterisk-call/route-call.sh'], cmd: ['/app/route-call.sh'] },
];

/** Makes every example image on the engine at `dockerHost` that it lacks or holds with older files. */
export async function ensureExampleImages(dockerHost: string | undefined): Promise<readonly string[]> {
  for (const image of EXAMPLE_IMAGES) {
    const files = await Promise.all(image.files.map((file) => imageFile(file)));
    await ensureBusyboxImage(dockerHost, image.ref, { files, ...(image.cmd === undefined ? {} : { cmd: image.cmd }) });
  }
  return EXAMPLE_IMAGES.map((image) => image.ref);
}

async function imageFile(file: string): Promise<ImageFile> {
  const name = file.slice(file.lastIndexOf('/') + 1);
  return { path: `app/${name}`, content: await readFile(EXAMPLES + file), mode: name.endsWith('.sh') ? 0o755 : 0o644 };
}
