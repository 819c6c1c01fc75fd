/**
 * The public view of a runner over the API. Deliberately leaves out env (it holds secrets) and
 * limits' internals; only what a client needs to submit a task. Schemas only, importing nothing
 * but typebox, so the SDK's types can take them without the server's modules.
 */
import { Type, type Static } from 'typebox';

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
