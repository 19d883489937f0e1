// Canary (REQUIREMENTS "What never appears in logs", ASVS 16.2.5; issue 4 acceptance "No leaks"):
// run a canary seed and canary codes through every refusal and error path of the module and
// scan everything a caller could log (results, error messages, stacks, inspect/JSON forms,
// stored credentials) for the seed in any common encoding and for the codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import {
  OtpSeed,
  SeedCipher,
  base32Encode,
  confirmEnrollment,
  otpAt,
  otpauthUri,
  resyncHotp,
  startEnrollment,
  timeStep,
  verifyHotp,
  verifyOtp,
  verifyTotp,
} from './index.js';
import type { OtpCredential } from './index.js';
import { TestKeyring, applyNext, credentialFor } from './otp-test-support.js';

const CANARY = new TextEncoder().encode('GATEHOUSE-CANARY-SEED-42');
const NOW = new Date(Date.UTC(2026, 6, 1, 9, 30, 0));
const STEP = timeStep(NOW, 30);
const keyring = new TestKeyring();
const cipher = new SeedCipher(keyring);

function forms(bytes: Uint8Array): string[] {
  const b = Buffer.from(bytes);
  return [
    b.toString('utf8'),
    b.toString('hex'),
    b.toString('hex').toUpperCase(),
    b.toString('base64'),
    b.toString('base64url'),
    base32Encode(bytes),
    Array.from(bytes).join(','),
    Array.from(bytes).join(', '),
    JSON.stringify(Array.from(bytes).slice(0, 8)).slice(1, -1),
    Array.from(bytes.slice(0, 8), (x, i) => `"${i}":${x}`).join(','),
    'CANARY',
  ];
}

test('no result, error, stack or printed form contains the seed or the code', () => {
  const seed = OtpSeed.fromBytes(CANARY);
  const good = otpAt(seed, 'SHA1', 6, STEP);
  const goodHotp = otpAt(seed, 'SHA1', 6, 3);
  const wrong = good === '314159' ? '271828' : '314159';
  const secrets = [...forms(CANARY), good, goodHotp, wrong];
  const seen: unknown[] = [];
  const capture = (fn: () => unknown) => {
    try {
      seen.push(fn());
    } catch (err) {
      seen.push(err);
    }
  };

  const totp = credentialFor(CANARY, cipher, { kind: 'totp' });
  const hotp = credentialFor(CANARY, cipher, { kind: 'hotp' });
  const pending = credentialFor(CANARY, cipher, { kind: 'totp', status: 'pending', now: new Date(NOW.getTime() - 3600_000) });
  const s = () => cipher.decrypt(totp.encryptedSeed, totp);

  // Results: accepted, replayed, mismatch, malformed (including a code embedded in junk).
  const accepted = verifyTotp(totp, s(), good, NOW);
  capture(() => accepted);
  assert.ok(accepted.ok);
  capture(() => verifyTotp(applyNext(totp, accepted.next), s(), good, NOW));
  capture(() => verifyTotp(totp, s(), wrong, NOW));
  capture(() => verifyTotp(totp, s(), ` ${good} `, NOW));
  capture(() => verifyHotp(hotp, s(), goodHotp));
  capture(() => verifyHotp(hotp, s(), wrong));
  capture(() => resyncHotp(hotp, s(), wrong, good));
  capture(() => resyncHotp(hotp, s(), `${wrong}x`, good));
  // Thrown errors: wrong state, wrong kind, expired confirmation, bad configuration.
  capture(() => verifyTotp(pending, s(), good, NOW));
  capture(() => verifyHotp(totp, s(), good));
  capture(() => verifyOtp({ ...hotp, status: 'retired' } as OtpCredential, s(), good, NOW));
  capture(() => confirmEnrollment(pending, s(), good, NOW));
  capture(() => confirmEnrollment(totp, s(), good, NOW));
  capture(() => resyncHotp(hotp, s(), wrong, good, 0));
  capture(() => otpAt(s(), 'SHA1', 6, -1));
  capture(() => timeStep(new Date(Number.NaN), 30));
  // Seed cipher refusals: moved row, wrong key, unknown key, tampering, garbage.
  capture(() => cipher.decrypt(totp.encryptedSeed, { credentialId: 'other', accountId: totp.accountId }));
  capture(() => new SeedCipher(new TestKeyring('k1', new Uint8Array(32).fill(1))).decrypt(totp.encryptedSeed, totp));
  capture(() => new SeedCipher(new TestKeyring('zz')).decrypt(totp.encryptedSeed, totp));
  capture(() => cipher.decrypt(totp.encryptedSeed.slice(0, -4) + 'AAAA', totp));
  capture(() => cipher.decrypt(Buffer.from(CANARY).toString('hex'), totp));
  capture(() => OtpSeed.fromBytes(CANARY.slice(0, 10)));
  // URI and enrolment refusals.
  capture(() => otpauthUri({ kind: 'totp', algorithm: 'SHA1', digits: 6, issuer: 'Gatehouse', account: 'x:y', secret: seed }));
  capture(() => startEnrollment({ credentialId: 'c', accountId: 'a', accountName: 'a@b', kind: 'hotp', algorithm: 'SHA512', digits: 6, now: NOW }, cipher));
  // What the repository stores, and the seed object itself.
  capture(() => totp);
  capture(() => hotp);
  capture(() => seed);
  capture(() => ({ nested: { seed } }));

  const errors = seen.filter((x): x is Error => x instanceof Error);
  assert.ok(errors.length >= 15, `only ${errors.length} errors captured`);
  for (const item of seen) {
    const texts = [inspect(item, { depth: 10, showHidden: true }), JSON.stringify(item) ?? '', String(item)];
    if (item instanceof Error) texts.push(item.message, item.stack ?? '', inspect(item.cause));
    for (const text of texts) {
      for (const secret of secrets) {
        assert.ok(!text.includes(secret), `leaked ${secret === good || secret === wrong || secret === goodHotp ? 'a code' : 'the seed'} in: ${text.slice(0, 200)}`);
      }
    }
  }
});
