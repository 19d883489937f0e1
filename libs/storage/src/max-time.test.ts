import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineExceededError } from '@gatehouse/core';
import { boundedMaxTimeMS } from './index.js';

const now = Date.UTC(2026, 0, 1);

test('without a deadline the default cap applies', () => {
  assert.equal(boundedMaxTimeMS(undefined, 10_000, now), 10_000);
});

test('a near deadline gives the time left, a far one the cap', () => {
  assert.equal(boundedMaxTimeMS(new Date(now + 1234), 10_000, now), 1234);
  assert.equal(boundedMaxTimeMS(new Date(now + 1), 10_000, now + 0.6), 1); // never rounds down to 0
  assert.equal(boundedMaxTimeMS(new Date(now + 60_000), 10_000, now), 10_000);
});

test('a passed deadline throws DeadlineExceededError instead of returning 0 (= no limit)', () => {
  assert.throws(() => boundedMaxTimeMS(new Date(now), 10_000, now), DeadlineExceededError);
  assert.throws(() => boundedMaxTimeMS(new Date(now - 1), 10_000, now), DeadlineExceededError);
});

test('bad inputs are refused', () => {
  assert.throws(() => boundedMaxTimeMS(undefined, 0, now), RangeError);
  assert.throws(() => boundedMaxTimeMS(new Date(Number.NaN), 10_000, now), RangeError);
});
