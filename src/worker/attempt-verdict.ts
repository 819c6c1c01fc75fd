/**
 * Pure judgement of one attempt: what the container did → what the task becomes.
 * No I/O, so every branch is unit-tested.
 */
import type { AttemptResult } from '../tasks/task-lifecycle.ts';
import type { Runner, RunnerLimits } from '../runners/runner.ts';
import type { ContainerOutcome, EngineError } from '../engine/container-engine.ts';
import { findExcessiveNesting } from '../json-depth.ts';

export type AttemptVerdict =
  | { readonly kind: 'finished'; readonly result: AttemptResult }
  /** Stopped by Berth itself (shutdown, cancel, lost claim): the abort signal's reason says why. */
  | { readonly kind: 'stopped' };

const MESSAGE_EXCERPT_CHARS = 500;
/**
 * Output is served as JSON to clients, and serialising it recurses: a few thousand levels overflow
 * the stack and every read of the task would answer 500. Deeper than request bodies may be
 * (json-depth.ts), since a program's own output is its business, and far below that overflow.
 */
const MAX_OUTPUT_DEPTH = 256;

/** What of a runner judging needs. */
export type JudgedRunner = Pick<Runner, 'output' | 'timeoutMs'> & { readonly limits: Pick<RunnerLimits, 'outputBytes' | 'memoryBytes'> };

export function judgeOutcome(outcome: ContainerOutcome, runner: JudgedRunner): AttemptVerdict {
  if (outcome.aborted) return { kind: 'stopped' };
  if (outcome.timedOut) {
    return failed('timeout', `timed out after ${formatSeconds(runner.timeoutMs)}; the container was killed`, outcome.exitCode);
  }
  if (outcome.stdoutOverflow) {
    return failed('output_too_large', `stdout exceeded the limit of ${runner.limits.outputBytes} bytes; the container was killed`, outcome.exitCode);
  }
  if (outcome.exitCode === null) {
    return failed('engine_error', 'the container ended without an exit code', null);
  }
  if (outcome.exitCode !== 0) {
    const tail = stderrTail(outcome.stderr);
    const after = tail === '' ? '' : `: ${tail}`;
    // A failed exit with an OOM kill in the container is the memory limit's doing, whichever
    // process the kernel chose (the program, or a child whose death made it fail).
    if (outcome.oomKilled) {
      return failed('oom', `killed for exceeding the memory limit of ${formatMiB(runner.limits.memoryBytes)} (exit code ${outcome.exitCode})${after}`, outcome.exitCode);
    }
    return failed('nonzero_exit', `exited with code ${outcome.exitCode}${after}`, outcome.exitCode);
  }
  return parseOutput(outcome.stdout, runner.output);
}

function parseOutput(stdout: Buffer, mode: Runner['output']): AttemptVerdict {
  const text = stdout.toString('utf8');
  if (mode === 'text') return succeeded(JSON.stringify(text));
  const trimmed = text.trim();
  if (trimmed === '') return succeeded('null');
  try {
    JSON.parse(trimmed);
  } catch (error) {
    const start = printable(trimmed.length > 200 ? `${trimmed.slice(0, 200)}…` : trimmed);
    return failed('invalid_output', `stdout is not valid JSON (${(error as Error).message}); it starts with: ${start}`, 0);
  }
  const tooDeep = findExcessiveNesting(trimmed, MAX_OUTPUT_DEPTH);
  if (tooDeep !== null) {
    return failed('invalid_output', `stdout nests deeper than ${MAX_OUTPUT_DEPTH} levels (at ${tooDeep === '' ? 'the top' : tooDeep}); Berth could not serve it`, 0);
  }
  // Stored as the container wrote it (json column), so numbers keep their exact text.
  return succeeded(trimmed);
}

export function engineErrorResult(error: EngineError): AttemptResult {
  return failedResult('engine_error', printable(`${error.reason}: ${error.message}`), null);
}

/** The database refused to store the output the program wrote (a clean exit): the program's fault, not Berth's. */
export function unstorableOutputResult(error: unknown): AttemptResult {
  const why = error instanceof Error ? error.message : String(error);
  return failedResult('invalid_output', printable(`stdout could not be stored (${why})`), 0);
}

/**
 * Text for an error message (a text column): PostgreSQL refuses the NUL character in text, so it
 * is spelled out. The log itself is stored as bytes, unchanged.
 */
function printable(text: string): string {
  return text.replaceAll('\u0000', '\\0');
}

function succeeded(outputJson: string): AttemptVerdict {
  return { kind: 'finished', result: { status: 'succeeded', outputJson, errorCode: null, errorMessage: null, exitCode: 0 } };
}

function failed(code: NonNullable<AttemptResult['errorCode']>, message: string, exitCode: number | null): AttemptVerdict {
  return { kind: 'finished', result: failedResult(code, message, exitCode) };
}

function failedResult(code: NonNullable<AttemptResult['errorCode']>, message: string, exitCode: number | null): AttemptResult {
  return { status: 'failed', outputJson: null, errorCode: code, errorMessage: message, exitCode };
}

function stderrTail(stderr: Buffer): string {
  const text = printable(stderr.toString('utf8').trim());
  return text.length > MESSAGE_EXCERPT_CHARS ? `…${text.slice(-MESSAGE_EXCERPT_CHARS)}` : text;
}

function formatMiB(bytes: number): string {
  return `${Math.round((bytes / 2 ** 20) * 100) / 100} MiB`;
}

function formatSeconds(ms: number): string {
  return `${ms / 1000}s`;
}
