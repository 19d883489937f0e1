import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailedPreconditionError, ResourceExhaustedError } from '@gatehouse/core';
import { DEFAULT_SMS_POLICY, checkSmsCode, issueSmsCode, randomCode, validateSmsPolicy } from './index.js';

const pepper = Buffer.alloc(32, 7);
const t0 = new Date(Date.UTC(2026, 10, 27, 9));
const at = (ms: number) => new Date(t0.getTime() + ms);

test('codes are 6+ uniformly random digits, stored only as a keyed hash bound to the sign-in', () => {
  const { code, challenge } = issueSmsCode(undefined, 'sin-1', t0, pepper);
  assert.match(code, /^\d{6}$/);
  assert.ok(!JSON.stringify(challenge).includes(code), 'the clear code is not in the stored challenge');
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 2000; i++) for (const d of randomCode(6)) counts[Number(d)] += 1;
  assert.ok(counts.every((c) => c > 900 && c < 1500), `digits are uniform: ${counts}`);
  const other = issueSmsCode(undefined, 'sin-2', t0, pepper, DEFAULT_SMS_POLICY, () => 4);
  const same = issueSmsCode(undefined, 'sin-3', t0, pepper, DEFAULT_SMS_POLICY, () => 4);
  assert.notEqual(other.challenge.codeHash, same.challenge.codeHash, 'the hash binds the sign-in');
  assert.equal(checkSmsCode(same.challenge, other.code, t0, pepper).ok, true);
  assert.equal(checkSmsCode({ ...same.challenge, signInId: 'sin-2' }, same.code, t0, pepper).ok, false, "another sign-in's challenge does not accept it");
});

test('a code works once, and not at or after its expiry', () => {
  const { code, challenge } = issueSmsCode(undefined, 'sin-1', t0, pepper);
  assert.deepEqual(checkSmsCode(challenge, code, at(DEFAULT_SMS_POLICY.ttlMs), pepper), { ok: false, reason: 'expired' });
  const ok = checkSmsCode(challenge, code, at(DEFAULT_SMS_POLICY.ttlMs - 1), pepper);
  assert.ok(ok.ok);
  assert.deepEqual(checkSmsCode(ok.next, code, at(1000), pepper), { ok: false, reason: 'used' });
  assert.deepEqual(checkSmsCode(challenge, '12345', t0, pepper), { ok: false, reason: 'malformed' });
  assert.deepEqual(checkSmsCode(challenge, '{"$ne":1}', t0, pepper), { ok: false, reason: 'malformed' });
});

test('resends: cooldown with a retry hint, a limit, and the old code stops working', () => {
  const first = issueSmsCode(undefined, 'sin-1', t0, pepper);
  assert.throws(() => issueSmsCode(first.challenge, 'sin-1', at(10_000), pepper), (e: unknown) => e instanceof ResourceExhaustedError && e.retryAfterMs === 20_000);
  const second = issueSmsCode(first.challenge, 'sin-1', at(30_000), pepper);
  assert.equal(second.challenge.sends, 2);
  if (first.code !== second.code) assert.deepEqual(checkSmsCode(second.challenge, first.code, at(31_000), pepper), { ok: false, reason: 'mismatch' });
  const third = issueSmsCode(second.challenge, 'sin-1', at(60_000), pepper);
  assert.throws(() => issueSmsCode(third.challenge, 'sin-1', at(120_000), pepper), FailedPreconditionError);
});

test('policies that break the requirements are refused', () => {
  assert.throws(() => validateSmsPolicy({ ...DEFAULT_SMS_POLICY, digits: 4 }), /sms\.digits/);
  assert.throws(() => validateSmsPolicy({ ...DEFAULT_SMS_POLICY, ttlMs: 11 * 60_000 }), /at most 10 minutes/);
  validateSmsPolicy(DEFAULT_SMS_POLICY);
});
