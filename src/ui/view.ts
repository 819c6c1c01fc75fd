/**
 * What every page of the web page gets from the router (main.ts): where to draw, the client, and
 * a signal that aborts when the user goes elsewhere, which ends the page's refreshing and its
 * followed logs. A page reports failures through `report`, which shows them in the notice above
 * the page (and drops those of a page already left).
 */
import type { BerthClient } from '../client/index.ts';

export interface ViewContext {
  readonly root: HTMLElement;
  readonly client: BerthClient;
  readonly signal: AbortSignal;
  readonly query: URLSearchParams;
  /** Goes to a route of the page, e.g. '#/tasks/<id>'. */
  navigate(hash: string): void;
  report(error: unknown): void;
}

export type View = (context: ViewContext, ...params: string[]) => void | Promise<void>;

/**
 * Runs `step` now and then every `ms` (each run starts once the previous one has ended) until the
 * signal aborts or `step` answers 'stop'. A failing step is reported and tried again next time.
 */
export async function repeat(context: ViewContext, ms: number, step: () => Promise<'stop' | void>): Promise<void> {
  while (!context.signal.aborted) {
    try {
      if (await step() === 'stop') return;
    } catch (error) {
      context.report(error);
    }
    await sleep(ms, context.signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void { clearTimeout(timer); signal.removeEventListener('abort', done); resolve(); }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The value of a JSON textarea, or a SyntaxError whose message says where it is wrong. */
export function parseJsonInput(text: string): unknown {
  return text.trim() === '' ? null : JSON.parse(text);
}
