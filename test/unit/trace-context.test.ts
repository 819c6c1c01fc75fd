import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTraceparent, traceIdOf } from '../../src/trace-context.ts';

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

test('a valid version-00 traceparent is kept as given (surrounding whitespace dropped)', () => {
  assert.equal(parseTraceparent(VALID), VALID);
  assert.equal(parseTraceparent(` ${VALID}\t`), VALID);
  assert.equal(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00'), '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00');
  assert.equal(traceIdOf(VALID), '4bf92f3577b34da6a3ce929d0e0e4736');
});

test('anything else is ignored (undefined), never an error', () => {
  const invalid = [
    undefined, '', 'garbage',
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01', // all-zero trace id
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', // all-zero parent id
    '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', // another version
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', // the forbidden version
    '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', // upper case
    '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01', // trace id one short
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01', // parent id one short
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1', // flags one short
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra', // version 00 has nothing after the flags
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902g7-01', // not hex
    '00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01',
  ];
  for (const header of invalid) assert.equal(parseTraceparent(header), undefined, JSON.stringify(header));
  // A repeated header is ambiguous: ignored.
  assert.equal(parseTraceparent([VALID, VALID]), undefined);
});
