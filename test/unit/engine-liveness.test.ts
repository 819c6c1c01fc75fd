import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EngineError } from '../../src/engine/container-engine.ts';
import { bounded, EngineWatch, type EngineTimeouts } from '../../src/engine/engine-liveness.ts';

const never = (): Promise<never> => new Promise(() => undefined);
const isReason = (reason: EngineError['reason'], pattern?: RegExp) => (error: unknown): boolean => {
  assert.ok(error instanceof EngineError, `expected an EngineError, got ${String(error)}`);
  assert.equal(error.reason, reason);
  if (pattern !== undefined) assert.match(error.message, pattern);
  return true;
};

test('bounded() passes the answer through and leaves no timer behind', async () => {
  assert.equal(await bounded('asking', 10_000, undefined, async () => 42), 42);
});

test('bounded() fails a request unanswered in time as unresponsive, naming it, and aborts its signal', async () => {
  let seen: AbortSignal | undefined;
  await assert.rejects(
    bounded('creating container x', 20, undefined, (signal) => { seen = signal; return never(); }),
    isReason('unresponsive', /^creating container x: the container engine did not answer within 20 ms$/),
  );
  assert.equal(seen?.aborted, true);
});

test('bounded() rejects with the reason of `until` when it aborts first, even if it aborted before', async () => {
  const until = new AbortController();
  const gone = new EngineError('unresponsive', 'engine hung');
  const running = bounded('starting', 10_000, until.signal, never);
  until.abort(gone);
  await assert.rejects(running, (error) => error === gone);
  await assert.rejects(bounded('starting', 10_000, until.signal, never), (error) => error === gone);
});

test('bounded() keeps the request\'s own error when nothing aborted', async () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  await assert.rejects(bounded('ping', 10_000, undefined, () => Promise.reject(refused)), (error) => error === refused);
});

const FAST: EngineTimeouts = { requestMs: 1000, pingMs: 20, pingIntervalMs: 5, pingMisses: 3 };

/** A ping whose answer each call decides. */
function scriptedPing(answer: (call: number) => 'ok' | 'hang' | Error): { ping: (signal: AbortSignal) => Promise<void>; calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    ping: () => {
      const result = answer(++calls);
      if (result === 'ok') return Promise.resolve();
      if (result === 'hang') return never();
      return Promise.reject(result);
    },
  };
}

test('the watch declares the engine hung after pingMisses unanswered pings in a row, aborting every lease', async () => {
  const script = scriptedPing((call) => (call <= 2 ? 'ok' : 'hang'));
  const watch = new EngineWatch(script.ping, FAST);
  const first = watch.enter();
  const second = watch.enter();
  await assert.rejects(first.gone, isReason('unresponsive', /3 pings in a row failed/));
  await assert.rejects(second.gone, isReason('unresponsive'));
  assert.equal(first.signal.aborted, true);
  assert.ok(first.signal.reason instanceof EngineError);
  assert.equal(script.calls(), 5, 'two answered pings, then three unanswered');
});

test('an answered ping resets the count of misses', async () => {
  // miss, miss, answer, miss, miss, answer, ... never three in a row.
  const script = scriptedPing((call) => (call % 3 === 0 ? 'ok' : 'hang'));
  const watch = new EngineWatch(script.ping, FAST);
  const lease = watch.enter();
  while (script.calls() < 12) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(lease.signal.aborted, false);
  lease.leave();
});

test('a refused connection means the engine is gone at the first ping: unreachable', async () => {
  const refused = Object.assign(new Error('connect ENOENT /run/x.sock'), { code: 'ENOENT' });
  const script = scriptedPing(() => refused);
  const lease = new EngineWatch(script.ping, FAST).enter();
  await assert.rejects(lease.gone, isReason('unreachable', /ENOENT/));
  assert.equal(script.calls(), 1);
});

test('the watch pings only while a lease is held, and starts again for a new one', async () => {
  const script = scriptedPing(() => 'ok');
  const watch = new EngineWatch(script.ping, FAST);
  const lease = watch.enter();
  while (script.calls() < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  lease.leave();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const stoppedAt = script.calls();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(script.calls(), stoppedAt, 'pinged with no lease held');
  const again = watch.enter();
  while (script.calls() === stoppedAt) await new Promise((resolve) => setTimeout(resolve, 5));
  again.leave();
});
