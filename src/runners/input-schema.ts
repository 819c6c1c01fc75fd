/**
 * An `input_schema:` of the runners file (a runner's or a workflow's), compiled once when the file
 * is loaded into the check a submission's input must pass. Both sections resolve it here, so a
 * schema means the same thing wherever it is written.
 */
import { Ajv, type ErrorObject, type Options as AjvOptions, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { ErrorDetail } from '../errors.ts';
import { isMapping, type ProblemReporter } from './runner-config-schema.ts';

/** The two fields a Runner and a Workflow share for their input. */
export interface InputSchemaFields {
  /** The JSON Schema as written, deep-frozen, or undefined when there is none. */
  readonly inputSchema: Readonly<Record<string, unknown>> | undefined;
  /** Every violation of inputSchema (empty when valid, and always empty without a schema). */
  readonly validateInput: (input: unknown) => readonly ErrorDetail[];
}

const NO_ERRORS: readonly ErrorDetail[] = Object.freeze([]);
const NO_SCHEMA: InputSchemaFields = Object.freeze({ inputSchema: undefined, validateInput: () => NO_ERRORS });

/**
 * `value` is what the file holds at `path`; a value that is not a mapping was reported by the
 * shape check, and is taken as no schema. A schema that does not compile is reported at `path`.
 */
export function resolveInputSchema(value: unknown, path: readonly string[], context: ProblemReporter): InputSchemaFields {
  if (!isMapping(value)) return NO_SCHEMA;
  const schema = deepFreeze(value);
  if (schema['$async'] === true) {
    context.report(path, 'invalid JSON Schema: $async schemas are not supported');
    return NO_SCHEMA;
  }
  try {
    const validate = inputSchemaCompiler(schema['$schema']).compile(schema);
    return Object.freeze({ inputSchema: schema, validateInput: inputValidator(validate) });
  } catch (error) {
    context.report(path, `invalid JSON Schema: ${(error as Error).message}`);
    return NO_SCHEMA;
  }
}

/**
 * One Ajv instance per schema, so that `$id`s of different runners and workflows cannot collide.
 * Strict mode turns typos ("tpye", "requried") and ambiguous schemas into load-time errors rather
 * than schemas that silently accept everything. The draft follows `$schema` (draft-07 by default).
 */
function inputSchemaCompiler(draft: unknown): Ajv {
  const options: AjvOptions = { strict: true, allErrors: true, allowUnionTypes: true, logger: false };
  let ajv: Ajv;
  if (typeof draft === 'string' && draft.includes('2020-12')) ajv = new Ajv2020(options);
  else if (typeof draft === 'string' && draft.includes('2019-09')) ajv = new Ajv2019(options);
  else ajv = new Ajv(options);
  addFormats.default(ajv);
  return ajv;
}

function inputValidator(validate: ValidateFunction): (input: unknown) => readonly ErrorDetail[] {
  return (input) => (validate(input) ? NO_ERRORS : Object.freeze((validate.errors ?? []).map(toInputError)));
}

/** Ajv's messages, at a JSON pointer under /input; an unexpected property is named, as a missing one is. */
function toInputError(error: ErrorObject): ErrorDetail {
  const path = `/input${error.instancePath}`;
  if (error.keyword === 'additionalProperties') {
    return { path, message: `must NOT have additional property '${String(error.params['additionalProperty'])}'` };
  }
  return { path, message: error.message ?? 'is invalid' };
}

/** Freezes `value` and everything in it: config values are shared, so nothing may change them. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
