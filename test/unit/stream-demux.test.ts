import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedCollector, OutputCapture, StreamDemuxer, TailBuffer, type StreamType } from '../../src/engine/stream-demux.ts';

function frame(stream: StreamType, payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

/** Demuxes `chunks` and returns the concatenated payload of each stream. */
function demux(chunks: Buffer[]): { stdout: string; stderr: string; pieces: number; boundary: boolean } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let pieces = 0;
  const demuxer = new StreamDemuxer((stream, piece) => {
    pieces += 1;
    (stream === 2 ? err : out).push(Buffer.from(piece));
  });
  for (const chunk of chunks) demuxer.push(chunk);
  return {
    stdout: Buffer.concat(out).toString(),
    stderr: Buffer.concat(err).toString(),
    pieces,
    boundary: demuxer.atFrameBoundary,
  };
}

const wire = Buffer.concat([frame(1, 'hello '), frame(2, 'warn\n'), frame(1, 'world'), frame(2, 'héllo ✓')]);

test('many frames in one chunk are separated by stream', () => {
  const result = demux([wire]);
  assert.equal(result.stdout, 'hello world');
  assert.equal(result.stderr, 'warn\nhéllo ✓');
  assert.equal(result.boundary, true);
});

test('a split at every possible byte gives the same result', () => {
  for (let at = 0; at <= wire.length; at++) {
    const result = demux([wire.subarray(0, at), wire.subarray(at)]);
    assert.equal(result.stdout, 'hello world', `split at ${at}`);
    assert.equal(result.stderr, 'warn\nhéllo ✓', `split at ${at}`);
  }
});

test('one byte per chunk (headers and payloads both split)', () => {
  const chunks = [...wire].map((byte) => Buffer.from([byte]));
  const result = demux(chunks);
  assert.equal(result.stdout, 'hello world');
  assert.equal(result.stderr, 'warn\nhéllo ✓');
});

test('payload pieces are delivered before the frame is complete', () => {
  const big = frame(1, Buffer.alloc(100_000, 'a'));
  const pieces: number[] = [];
  const demuxer = new StreamDemuxer((_stream, piece) => pieces.push(piece.length));
  demuxer.push(big.subarray(0, 1000));
  assert.deepEqual(pieces, [992]);
  assert.equal(demuxer.atFrameBoundary, false);
  demuxer.push(big.subarray(1000));
  assert.equal(pieces.reduce((a, b) => a + b, 0), 100_000);
  assert.equal(demuxer.atFrameBoundary, true);
});

test('zero-length frames are skipped', () => {
  const result = demux([Buffer.concat([frame(1, ''), frame(2, ''), frame(1, 'x')])]);
  assert.equal(result.stdout, 'x');
  assert.equal(result.pieces, 1);
});

test('a malformed header throws', () => {
  const demuxer = new StreamDemuxer(() => {});
  assert.throws(() => demuxer.push(Buffer.from('hello world!')), /malformed attach stream frame header/);
  const badType = frame(1, 'x');
  badType[0] = 7;
  assert.throws(() => new StreamDemuxer(() => {}).push(badType), /malformed/);
});

test('a stream ending mid-frame is not at a frame boundary', () => {
  assert.equal(demux([wire.subarray(0, 4)]).boundary, false);
  assert.equal(demux([wire.subarray(0, 10)]).boundary, false);
});

test('BoundedCollector keeps everything up to the limit', () => {
  const collector = new BoundedCollector(10);
  assert.equal(collector.push(Buffer.from('12345')), false);
  assert.equal(collector.push(Buffer.from('67890')), false);
  assert.equal(collector.overflowed, false);
  assert.equal(collector.value.toString(), '1234567890');
});

test('BoundedCollector reports overflow exactly once and keeps the first limit bytes', () => {
  const collector = new BoundedCollector(10);
  assert.equal(collector.push(Buffer.from('1234567')), false);
  assert.equal(collector.push(Buffer.from('89abc')), true);
  assert.equal(collector.push(Buffer.from('more')), false);
  assert.equal(collector.overflowed, true);
  assert.equal(collector.value.toString(), '123456789a');
});

test('BoundedCollector with limit 0 overflows on the first byte', () => {
  const collector = new BoundedCollector(0);
  assert.equal(collector.push(Buffer.alloc(0)), false);
  assert.equal(collector.push(Buffer.from('x')), true);
  assert.equal(collector.value.length, 0);
});

test('BoundedCollector copies pieces instead of keeping views', () => {
  const source = Buffer.from('abc');
  const collector = new BoundedCollector(10);
  collector.push(source);
  source.fill('z');
  assert.equal(collector.value.toString(), 'abc');
});

test('TailBuffer keeps everything under the limit', () => {
  const tail = new TailBuffer(10);
  tail.push(Buffer.from('abc'));
  tail.push(Buffer.from('def'));
  assert.equal(tail.value.toString(), 'abcdef');
  assert.equal(tail.truncated, false);
});

test('TailBuffer at exactly the limit is not truncated', () => {
  const tail = new TailBuffer(6);
  tail.push(Buffer.from('abc'));
  tail.push(Buffer.from('def'));
  assert.equal(tail.value.toString(), 'abcdef');
  assert.equal(tail.truncated, false);
});

test('TailBuffer keeps the last bytes across many chunks', () => {
  const tail = new TailBuffer(5);
  for (const piece of ['ab', 'cd', 'ef', 'gh', 'i']) tail.push(Buffer.from(piece));
  assert.equal(tail.value.toString(), 'efghi');
  assert.equal(tail.truncated, true);
});

test('TailBuffer handles one chunk larger than the limit', () => {
  const tail = new TailBuffer(4);
  tail.push(Buffer.from('x'));
  tail.push(Buffer.from('0123456789'));
  assert.equal(tail.value.toString(), '6789');
  assert.equal(tail.truncated, true);
});

test('TailBuffer with limit 0 keeps nothing', () => {
  const tail = new TailBuffer(0);
  tail.push(Buffer.from('abc'));
  assert.equal(tail.value.length, 0);
  assert.equal(tail.truncated, true);
});

test('limits must be non-negative integers', () => {
  assert.throws(() => new TailBuffer(-1), RangeError);
  assert.throws(() => new BoundedCollector(1.5), RangeError);
});

test('OutputCapture routes streams, caps stdout once and tails stderr', () => {
  const live: string[] = [];
  let overflows = 0;
  const capture = new OutputCapture(
    { stdoutLimitBytes: 8, stderrLimitBytes: 6 },
    { onStderr: (chunk) => live.push(chunk.toString()), onOverflow: () => (overflows += 1) },
  );
  const stream = Buffer.concat([frame(1, 'abcde'), frame(2, 'err1\n'), frame(1, 'fghij'), frame(2, 'err2\n'), frame(1, 'k')]);
  for (let at = 0; at < stream.length; at += 3) capture.push(stream.subarray(at, at + 3));
  assert.equal(capture.stdout.toString(), 'abcdefgh');
  assert.equal(capture.stdoutOverflow, true);
  assert.equal(overflows, 1);
  assert.equal(capture.stderr.toString(), '\nerr2\n');
  assert.equal(capture.stderrTruncated, true);
  assert.equal(live.join(''), 'err1\nerr2\n');
});
