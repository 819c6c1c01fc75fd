/**
 * The graph a workflow's `needs:` draw between its steps: the order the steps are kept in, and
 * the cycles that would leave steps waiting for each other for ever. Needs that name no other
 * step (an unknown step, the step itself) are not edges here; workflow-config.ts reports them.
 */

interface Node {
  readonly id: string;
  readonly needs: readonly string[];
}

/**
 * Parents before children; where the needs allow either order, the order of `steps` (the file's).
 * At each turn, the first step whose parents are all placed goes next. Steps on a cycle never
 * become ready; they follow the rest in file order (the cycle is a config error anyway).
 */
export function dependencyOrder<T extends Node>(steps: readonly T[]): T[] {
  const ids = new Set(steps.map((step) => step.id));
  const placed = new Set<string>();
  const isReady = (step: T): boolean => step.needs.every((need) => placed.has(need) || need === step.id || !ids.has(need));
  const order: T[] = [];
  let waiting = [...steps];
  for (let next = waiting.find(isReady); next !== undefined; next = waiting.find(isReady)) {
    order.push(next);
    placed.add(next.id);
    waiting = waiting.filter((step) => step !== next);
  }
  return [...order, ...waiting];
}

/**
 * Cycles among the needs, each once: a depth-first walk closes one for each need that leads back
 * to a step still on its path. A cycle lists ids each needing the next, the last needing the
 * first; it starts at its step that comes first in the file, so it always reads the same. Every
 * cycle has a need in common with a reported one, but where cycles tangle not all are reported:
 * the others show once those are broken (listing every cycle of a tangle can take exponential time).
 */
export function findCycles(steps: readonly Node[]): string[][] {
  const position = new Map(steps.map((step, index) => [step.id, index]));
  const needsOf = new Map(steps.map((step) => [step.id, new Set(step.needs)]));
  const done = new Set<string>();
  const path: string[] = [];
  const cycles: string[][] = [];
  const visit = (id: string): void => {
    path.push(id);
    for (const need of needsOf.get(id) ?? []) {
      if (need === id || !position.has(need) || done.has(need)) continue;
      if (path.includes(need)) cycles.push(startAtFirst(path.slice(path.indexOf(need)), position));
      else visit(need);
    }
    path.pop();
    done.add(id);
  };
  for (const step of steps) if (!done.has(step.id)) visit(step.id);
  return cycles;
}

function startAtFirst(cycle: readonly string[], position: ReadonlyMap<string, number>): string[] {
  const first = cycle.reduce((best, id, index) => ((position.get(id) ?? 0) < (position.get(cycle[best]!) ?? 0) ? index : best), 0);
  return [...cycle.slice(first), ...cycle.slice(0, first)];
}
