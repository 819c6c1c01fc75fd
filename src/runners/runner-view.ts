/**
 * The public view of a runner over the API. Deliberately leaves out env (it holds secrets) and
 * limits' internals; only what a client needs to submit a task.
 */
import { Type, type Static } from 'typebox';
import { AppError } from '../errors.ts';
import { FULL_ACCESS, mayUseRunner, type Access } from './access.ts';
import type { Runner, RunnersConfig } from './runner.ts';

export const RunnerView = Type.Object(
  {
    name: Type.String(),
    image: Type.String(),
    timeout: Type.Number({ description: 'Seconds before the container is killed' }),
    output: Type.Union([Type.Literal('json'), Type.Literal('text')]),
    input_schema: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], {
      description: 'JSON Schema the task input must satisfy, or null when any JSON is accepted',
    }),
  },
  { additionalProperties: false },
);
export type RunnerView = Static<typeof RunnerView>;

export const RunnerNameParams = Type.Object({ name: Type.String() }, { additionalProperties: false });

export function toRunnerView(runner: Runner): RunnerView {
  return {
    name: runner.name,
    image: runner.image,
    timeout: runner.timeoutMs / 1000,
    output: runner.output,
    input_schema: (runner.inputSchema as Record<string, unknown> | undefined) ?? null,
  };
}

/** Only the runners `access` may use: a limited key learns nothing of the others. */
export function listRunnerViews(config: RunnersConfig, access: Access = FULL_ACCESS): RunnerView[] {
  return [...config.runners.values()].filter((runner) => mayUseRunner(access, runner.name)).map(toRunnerView);
}

export function getRunnerView(config: RunnersConfig, name: string, access: Access = FULL_ACCESS): RunnerView {
  const runner = config.runners.get(name);
  if (runner === undefined || !mayUseRunner(access, name)) throw new AppError('RUNNER_NOT_FOUND', `no runner named '${name}'`);
  return toRunnerView(runner);
}
