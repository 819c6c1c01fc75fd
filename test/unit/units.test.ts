import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration, parseSize } from '../../src/units.ts';

test('parseDuration reads numbers as seconds', () => {
  assert.equal(parseDuration(30), 30_000);
  assert.equal(parseDuration(1.5), 1_500);
  assert.equal(parseDuration(0.0004), 0);
  assert.equal(parseDuration(0), 0);
});

test('parseDuration reads Go-style duration strings', () => {
  const cases: [string, number][] = [
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1.5s', 1_500],
    ['.5s', 500],
    ['1m30.5s', 90_500],
    ['2h1m1s1ms', 7_261_001],
    ['0s', 0],
    ['7d', 604_800_000],
    ['1d12h', 129_600_000],
    ['.5d', 43_200_000],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

test('parseDuration refuses anything else', () => {
  for (const text of ['', '30', '-5s', '5 s', '1h 30m', '5S', '1D', 'd', '1w', '5sec', 's', '1.s', 'soon', '1e3s', ' 5s']) {
    assert.equal(parseDuration(text), undefined, JSON.stringify(text));
  }
  for (const value of [-1, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_VALUE]) {
    assert.equal(parseDuration(value), undefined, String(value));
  }
  assert.equal(parseDuration(`1${'0'.repeat(400)}s`), undefined);
});

test('parseSize reads numbers as bytes and needs integers', () => {
  assert.equal(parseSize(100_000), 100_000);
  assert.equal(parseSize(0), 0);
  assert.equal(parseSize(1.5), undefined);
  assert.equal(parseSize(-1), undefined);
  assert.equal(parseSize(2 ** 60), undefined);
});

test('parseSize reads size strings with binary units, as docker does', () => {
  const cases: [string, number][] = [
    ['1024', 1024],
    ['100b', 100],
    ['100B', 100],
    ['1k', 1024],
    ['1kb', 1024],
    ['1KiB', 1024],
    ['256m', 256 * 2 ** 20],
    ['512MiB', 512 * 2 ** 20],
    ['512 MiB', 512 * 2 ** 20],
    ['1g', 2 ** 30],
    ['1G', 2 ** 30],
    ['1.5GB', 1.5 * 2 ** 30],
    ['2t', 2 * 2 ** 40],
    ['1p', 2 ** 50],
    ['1.3k', 1331],
    ['.5k', 512],
  ];
  for (const [text, bytes] of cases) assert.equal(parseSize(text), bytes, text);
});

test('parseSize refuses anything else', () => {
  for (const text of ['', 'lots', '-1m', '1 m b', '1ib', '1mm', '1e3', '1x', '1.2.3m', ' 1m', '10  MiB', '16p'.repeat(2), '8192p']) {
    assert.equal(parseSize(text), undefined, JSON.stringify(text));
  }
});
