/**
 * EXPERIMENT, not Berth's behaviour: preloaded into Berth's processes with
 *   BENCH_BERTH_NODE_ARGS='--import ./bench/experiments/wait-before-start.ts' npm run bench
 * it patches src/engine/docker-engine.ts as it loads: the exit is awaited with a
 * `wait?condition=next-exit` sent before start (as /work/shared/design/pitfalls.md advises)
 * instead of a `condition=not-running` wait sent after the output stream ends. On Podman 4.3 the
 * late `not-running` wait is what adds 100-500 ms to a task. (Opening the two attaches together is
 * not safe: Podman prepares the container on the first attach and refuses a concurrent second one
 * with 409 "container state improper".)
 * Fails loudly if src/ no longer has the code it patches. Results go to *-experiment.json only.
 */
import { registerHooks } from 'node:module';

const TARGET = new URL('../../src/engine/docker-engine.ts', import.meta.url).href;

const PATCHES: readonly (readonly [string, string])[] = [
  [
    `    await startContainer(container);`,
    `    const waitAbort = new AbortController();
    exitWait = container.wait({ condition: 'next-exit', abortSignal: waitAbort.signal });
    exitWait.catch(() => undefined);
    stopWait = () => waitAbort.abort();
    await startContainer(container);`,
  ],
  [`  const sockets: Socket[] = [];`, `  const sockets: Socket[] = [];
  let exitWait;
  let stopWait = () => undefined;`],
  [`readExit(docker, container), stopper.failure`, `readExit(docker, container, exitWait), stopper.failure`],
  [`    clearTimeout(deadline);`, `    clearTimeout(deadline);
    stopWait();`],
  [`async function readExit(docker: Docker, container: Docker.Container)`, `async function readExit(docker: Docker, container: Docker.Container, pending?: Promise<unknown>)`],
  [`[container.wait({ condition: 'not-running', abortSignal: abort.signal }), engineGone`, `[pending ?? container.wait({ condition: 'not-running', abortSignal: abort.signal }), engineGone`],
];

registerHooks({
  load(url, context, nextLoad) {
    const loaded = nextLoad(url, context);
    if (url !== TARGET) return loaded;
    let source = String(loaded.source);
    for (const [from, to] of PATCHES) {
      if (!source.includes(from)) throw new Error(`wait-before-start experiment: src/engine/docker-engine.ts no longer contains:\n${from}`);
      source = source.replace(from, to);
    }
    return { ...loaded, source };
  },
});
