/**
 * Where a workflow run's steps go in its graph: pure arithmetic, no DOM (unit-tested in
 * test/unit/step-layout.test.ts). A step's column is its dependency depth (0 for a step that
 * needs nothing, else one more than its deepest parent); within a column steps keep the order
 * the API gives them (dependency order). Each edge runs from a parent's right side to its
 * child's left side. A `needs` naming no step of the list is ignored; a cycle (which the runners
 * file's validation refuses) cannot loop: a step met again while its depth is being found counts
 * as depth 0.
 */

export interface StepShape {
  readonly id: string;
  readonly needs: readonly string[];
}

export interface PlacedStep {
  readonly id: string;
  readonly column: number;
  readonly row: number;
  readonly x: number;
  readonly y: number;
}

export interface StepEdge {
  readonly from: string;
  readonly to: string;
  /** SVG path data: a horizontal S-curve from the parent's right middle to the child's left middle. */
  readonly path: string;
}

export interface StepLayout {
  readonly nodes: readonly PlacedStep[];
  readonly edges: readonly StepEdge[];
  readonly width: number;
  readonly height: number;
}

export const NODE_WIDTH = 168;
export const NODE_HEIGHT = 46;
const GAP_X = 64;
const GAP_Y = 18;
const PADDING = 16;

/** Each step's dependency depth, by id. */
export function stepDepths(steps: readonly StepShape[]): Map<string, number> {
  const byId = new Map(steps.map((step) => [step.id, step]));
  const depths = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (id: string): number => {
    const known = depths.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0;
    visiting.add(id);
    const parents = (byId.get(id)?.needs ?? []).filter((parent) => byId.has(parent));
    const depth = parents.length === 0 ? 0 : 1 + Math.max(...parents.map(depthOf));
    visiting.delete(id);
    depths.set(id, depth);
    return depth;
  };
  for (const step of steps) depthOf(step.id);
  return depths;
}

export function layoutSteps(steps: readonly StepShape[]): StepLayout {
  const depths = stepDepths(steps);
  const rowsUsed: number[] = [];
  const nodes: PlacedStep[] = steps.map((step) => {
    const column = depths.get(step.id) ?? 0;
    const row = rowsUsed[column] ?? 0;
    rowsUsed[column] = row + 1;
    return { id: step.id, column, row, x: PADDING + column * (NODE_WIDTH + GAP_X), y: PADDING + row * (NODE_HEIGHT + GAP_Y) };
  });
  const placed = new Map(nodes.map((node) => [node.id, node]));
  const edges: StepEdge[] = [];
  for (const step of steps) {
    const child = placed.get(step.id)!;
    for (const parentId of step.needs) {
      const parent = placed.get(parentId);
      if (parent === undefined) continue;
      edges.push({ from: parentId, to: step.id, path: curve(parent.x + NODE_WIDTH, parent.y + NODE_HEIGHT / 2, child.x, child.y + NODE_HEIGHT / 2) });
    }
  }
  const columns = rowsUsed.length;
  const rows = Math.max(0, ...rowsUsed);
  return {
    nodes, edges,
    width: PADDING * 2 + Math.max(0, columns * NODE_WIDTH + (columns - 1) * GAP_X),
    height: PADDING * 2 + Math.max(0, rows * NODE_HEIGHT + (rows - 1) * GAP_Y),
  };
}

function curve(x1: number, y1: number, x2: number, y2: number): string {
  const middle = (x1 + x2) / 2;
  return `M ${x1} ${y1} C ${middle} ${y1}, ${middle} ${y2}, ${x2} ${y2}`;
}
