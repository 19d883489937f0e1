import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HOT_PATH_RATE_RULES, RateLimiter } from './rate-limit.js';

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

test('per-IP buckets hold unauthenticated callers; authenticated callers on one IP never share a bucket (issue 17 item 3)', () => {
  let now = 0;
  const rl = new RateLimiter({ perCaller: { ratePerSec: 1, burst: 2 }, perIp: { ratePerSec: 1, burst: 2 }, methods: { Login: { perCaller: { ratePerSec: 1, burst: 1 } } } }, () => now);
  assert.equal(rl.take('Health', '/s/Health', undefined, '1.1.1.1').allowed, true);
  assert.equal(rl.take('Health', '/s/Health', undefined, '1.1.1.1').allowed, true);
  const r = rl.take('Health', '/s/Health', undefined, '1.1.1.1');
  assert.ok(!r.allowed && r.limitedBy === 'ip', 'a third anonymous call from the IP waits');
  assert.equal(rl.take('Health', '/s/Health', undefined, '2.2.2.2').allowed, true, 'another IP has its own bucket');
  // Behind one NAT: c1 exhausts its own bucket, c2 is untouched.
  assert.equal(rl.take('Login', '/s/Login', 'backend:c1', '9.9.9.9').allowed, true);
  assert.equal(rl.take('Login', '/s/Login', 'backend:c1', '9.9.9.9').allowed, false, 'a method rule overrides the global one');
  assert.equal(rl.take('Login', '/s/Login', 'backend:c2', '9.9.9.9').allowed, true, 'a neighbour on the same IP is served');
  now += 1000;
  assert.equal(rl.take('Login', '/s/Login', 'backend:c1', '9.9.9.9').allowed, true, 'refilled');
});

test('hot-path RPCs have per-caller defaults that fit a product fleet; a method rule still overrides them', () => {
  const rl = new RateLimiter({ perCaller: { ratePerSec: 10, burst: 10 }, methods: { RecordAccess: { perCaller: { ratePerSec: 3, burst: 3 } } } }, () => 0);
  assert.deepEqual(rl.rulesFor('Check', '/gatehouse.allowlist.v1.AllowlistService/Check').perCaller, HOT_PATH_RATE_RULES['Check']);
  assert.deepEqual(rl.rulesFor('VerifySession', '/x/VerifySession').perCaller, HOT_PATH_RATE_RULES['VerifySession']);
  assert.deepEqual(rl.rulesFor('RecordAccess', '/x/RecordAccess').perCaller, { ratePerSec: 3, burst: 3 });
  assert.deepEqual(rl.rulesFor('AddEntry', '/x/AddEntry').perCaller, { ratePerSec: 10, burst: 10 }, 'other RPCs keep the global rule');
  let allowed = 0;
  for (let i = 0; i < 1000; i++) if (rl.take('Check', '/x/Check', 'backend:web', '10.0.0.1').allowed) allowed++;
  assert.equal(allowed, 1000, 'a burst of 1000 Checks from one backend passes');
});

test('bucket state is bounded', () => {
  const rl = new RateLimiter({}, () => 0, 100);
  for (let i = 0; i < 1000; i++) rl.take('A', '/A', undefined, `10.0.${i >> 8}.${i & 255}`);
  assert.ok((rl as unknown as { buckets: Map<string, unknown> }).buckets.size <= 101);
});
