/**
 * The names the runners file gives its entries (runners, webhooks, workflows, their steps). They
 * appear in URLs (/runners/:name, /webhooks/:name) and container labels, hence one conservative
 * pattern for all of them.
 */
import type { ProblemReporter } from './runner-config-schema.ts';

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/i;

/** Reports `name` at `path` when it does not fit the pattern; `kind` says what it names ("runner name"). */
export function checkName(kind: string, name: string, path: readonly string[], context: ProblemReporter): void {
  if (!NAME.test(name)) context.report(path, `invalid ${kind}: use up to 63 letters, digits, '.', '_' or '-', starting with a letter or digit`);
}
