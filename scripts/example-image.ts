/**
 * Makes the example runners' image (berth/busybox:1) on the engine at DOCKER_HOST, from the
 * machine's static busybox: no registry is needed.
 */
import { ensureBusyboxImage } from './busybox-image.ts';

const IMAGE = 'berth/busybox:1';
await ensureBusyboxImage(process.env['DOCKER_HOST'] || undefined, IMAGE);
process.stdout.write(`image ${IMAGE} is ready\n`);
