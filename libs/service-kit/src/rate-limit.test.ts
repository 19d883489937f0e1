import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from './rate-limit.js';

test('token bucket: burst then steady rate, per caller and per IP independently', () => {
  let now = 0;
  const rl = new RateLimiter({ perCaller: { ratePerSec: 10, burst: 3 }, perIp: { ratePerSec: 100, burst: 100 } }, () => now);
  const take = (caller: string, ip = '10.0.0.1') => rl.take('VerifyOtp', '/x/VerifyOtp', caller, ip);
  assert.deepEqual([take('a'), take('a'), take('a')].map((r) => r.allowed), [true, true, true]);
  const denied = take('a');
  assert.equal(denied.allowed, false);
  assert.ok(!denied.allowed && denied.retryAfterMs === 100 && denied.limitedBy === 'caller');
  assert.equal(take('b').allowed, true, 'another caller has its own bucket');
  now += 100;
  assert.equal(take('a').allowed, true, 'one token refilled after 100 ms at 10/s');
  assert.equal(take('a').allowed, false);
});

test('per-IP bucket stops a flood spread over many callers; per-method rules override defaults', () => {
  let now = 0;
  const rl = new RateLimiter({ perIp: { ratePerSec: 1, burst: 2 }, methods: { Check: { perIp: { ratePerSec: 1000, burst: 1000 } } } }, () => now);
  assert.equal(rl.take('Login', '/s/Login', 'c1', '1.1.1.1').allowed, true);
  assert.equal(rl.take('Login', '/s/Login', 'c2', '1.1.1.1').allowed, true);
  const r = rl.take('Login', '/s/Login', 'c3', '1.1.1.1');
  assert.ok(!r.allowed && r.limitedBy === 'ip');
  assert.equal(rl.take('Check', '/s/Check', 'c3', '1.1.1.1').allowed, true, 'Check has its own, larger limit');
  now += 1;
});

test('bucket state is bounded', () => {
  const rl = new RateLimiter({}, () => 0, 100);
  for (let i = 0; i < 1000; i++) rl.take('A', '/A', undefined, `10.0.${i >> 8}.${i & 255}`);
  assert.ok((rl as unknown as { buckets: Map<string, unknown> }).buckets.size <= 101);
});
