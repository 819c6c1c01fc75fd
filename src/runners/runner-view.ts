/**
 * A runner as the API shows it (runner-schemas.ts), and only to a key that may use it.
 */
import { AppError } from '../errors.ts';
import { FULL_ACCESS, mayUseRunner, type Access } from './access.ts';
import type { Runner, RunnersConfig } from './runner.ts';
import type { RunnerView } from './runner-schemas.ts';

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
