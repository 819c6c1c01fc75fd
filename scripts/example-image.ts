/**
 * Makes the example runners' images (scripts/example-images.ts) on the engine at DOCKER_HOST,
 * from the machine's static busybox: no registry is needed.
 */
import { ensureExampleImages } from './example-images.ts';

const refs = await ensureExampleImages(process.env['DOCKER_HOST'] || undefined);
process.stdout.write(`images ${refs.join(', ')} are ready\n`);
