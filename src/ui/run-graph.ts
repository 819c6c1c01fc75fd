/**
 * A workflow run's steps as an SVG graph: placed by step-layout.ts, one node per step coloured by
 * its status (classes styled in page.ts), edges from each step to those that need it. A node links
 * to its step's task, or, for a for_each step with several, to the list of the run's tasks.
 */
import type { WorkflowRun } from '../client/index.ts';
import { hrefOf, svg } from './dom.ts';
import { layoutSteps, NODE_HEIGHT, NODE_WIDTH, type PlacedStep } from './step-layout.ts';

type Step = WorkflowRun['steps'][number];

export function runGraph(run: WorkflowRun): SVGSVGElement {
  const layout = layoutSteps(run.steps);
  const steps = new Map(run.steps.map((step) => [step.id, step]));
  return svg('svg', {
    class: 'graph', id: 'run-graph', width: layout.width, height: layout.height, viewBox: `0 0 ${layout.width} ${layout.height}`,
    role: 'img', 'aria-label': `the steps of run ${run.id}`,
  },
  svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' },
    svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#8a94a6' }))),
  ...layout.edges.map((edge) => svg('path', { class: 'edge', d: edge.path, 'marker-end': 'url(#arrow)', 'data-from': edge.from, 'data-to': edge.to })),
  ...layout.nodes.map((node) => stepNode(run.id, node, steps.get(node.id)!)));
}

function stepNode(runId: string, node: PlacedStep, step: Step): SVGElement {
  const group = svg('g', { class: `node ${step.status}`, 'data-step': step.id, 'data-status': step.status, transform: `translate(${node.x} ${node.y})` },
    svg('title', {}, `${step.id} (${step.runner}): ${step.status}${step.error === null ? '' : ` — ${step.error.message}`}`),
    svg('rect', { width: NODE_WIDTH, height: NODE_HEIGHT, rx: 6 }),
    svg('text', { x: 10, y: 19, class: 'label' }, clip(step.id, 22)),
    svg('text', { x: 10, y: 36 }, clip(`${step.runner} · ${step.status}`, 26)));
  const href = step.taskIds.length === 1 ? hrefOf('tasks', step.taskIds[0]!)
    : step.taskIds.length > 1 ? `#/tasks?workflowId=${encodeURIComponent(runId)}` : undefined;
  return href === undefined ? group : svg('a', { href, 'data-step-link': step.id }, group);
}

function clip(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}
