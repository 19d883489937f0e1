// RFC 4226 Appendix D and RFC 6238 Appendix B, every vector, run through our own path: the seed
// is encrypted with SeedCipher, decrypted again, and the code goes through verifyHotp /
// verifyTotp (not only otplib). Issue 4 acceptance: "all RFC 4226 Appendix D and RFC 6238
// Appendix B vectors through the service's own code path".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { confirmEnrollment, otpAt, timeStep, verifyHotp, verifyTotp } from './index.js';
import type { OtpAlgorithm, OtpCredential, OtpSeed } from './index.js';
import { RFC_SEEDS, applyNext, credentialFor, testCipher } from './otp-test-support.js';

const cipher = testCipher();

function seedOf(cred: OtpCredential): OtpSeed {
  return cipher.decrypt(cred.encryptedSeed, { credentialId: cred.credentialId, accountId: cred.accountId });
}

// RFC 4226 Appendix D: secret "12345678901234567890", HOTP for counters 0..9.
const RFC4226 = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];

test('RFC 4226 Appendix D: every HOTP vector is accepted by verifyHotp at its counter', () => {
  for (const [counter, code] of RFC4226.entries()) {
    const cred = credentialFor(RFC_SEEDS.SHA1, cipher, { kind: 'hotp', counter });
    const seed = seedOf(cred);
    assert.equal(otpAt(seed, 'SHA1', 6, counter), code, `otpAt counter ${counter}`);
    const result = verifyHotp(cred, seed, code);
    assert.ok(result.ok, `counter ${counter}`);
    assert.equal(result.counter, counter);
    assert.deepEqual(result.next, { counter: counter + 1 });
  }
});

test('RFC 4226 Appendix D: the ten codes in order advance one counter from 0 to 10, each used once', () => {
  let cred = credentialFor(RFC_SEEDS.SHA1, cipher, { kind: 'hotp' });
  const seed = seedOf(cred);
  for (const [counter, code] of RFC4226.entries()) {
    const result = verifyHotp(cred, seed, code);
    assert.ok(result.ok && result.counter === counter);
    cred = applyNext(cred, result.next);
    assert.deepEqual(verifyHotp(cred, seed, code), { ok: false, reason: 'replayed' }, `code of counter ${counter} twice`);
  }
  assert.equal(cred.counter, 10);
});

// RFC 6238 Appendix B: time, T (hex), and the 8-digit TOTP for SHA1 / SHA256 / SHA512.
const RFC6238: { time: number; t: string; codes: Record<OtpAlgorithm, string> }[] = [
  { time: 59, t: '0000000000000001', codes: { SHA1: '94287082', SHA256: '46119246', SHA512: '90693936' } },
  { time: 1111111109, t: '00000000023523EC', codes: { SHA1: '07081804', SHA256: '68084774', SHA512: '25091201' } },
  { time: 1111111111, t: '00000000023523ED', codes: { SHA1: '14050471', SHA256: '67062674', SHA512: '99943326' } },
  { time: 1234567890, t: '000000000273EF07', codes: { SHA1: '89005924', SHA256: '91819424', SHA512: '93441116' } },
  { time: 2000000000, t: '0000000003F940AA', codes: { SHA1: '69279037', SHA256: '90698825', SHA512: '38618901' } },
  { time: 20000000000, t: '0000000027BC86AA', codes: { SHA1: '65353130', SHA256: '77737706', SHA512: '47863826' } },
];

test('RFC 6238 Appendix B: every TOTP vector (SHA1/SHA256/SHA512, 20/32/64-byte seeds, 8 digits) is accepted by verifyTotp at its time', () => {
  let checked = 0;
  for (const { time, t, codes } of RFC6238) {
    const now = new Date(time * 1000);
    assert.equal(timeStep(now, 30), Number.parseInt(t, 16), `T for ${time}`);
    for (const algorithm of ['SHA1', 'SHA256', 'SHA512'] as const) {
      const cred = credentialFor(RFC_SEEDS[algorithm], cipher, { algorithm, digits: 8 });
      const seed = seedOf(cred);
      assert.equal(seed.byteLength, { SHA1: 20, SHA256: 32, SHA512: 64 }[algorithm]);
      const result = verifyTotp(cred, seed, codes[algorithm], now);
      assert.ok(result.ok, `${algorithm} at ${time}`);
      assert.equal(result.step, Number.parseInt(t, 16));
      assert.equal(result.drift, 0);
      assert.deepEqual(result.next, { lastAcceptedStep: result.step, driftSteps: 0 });
      // And once accepted, the same vector is a replay.
      assert.deepEqual(verifyTotp(applyNext(cred, result.next), seed, codes[algorithm], now), { ok: false, reason: 'replayed' });
      checked++;
    }
  }
  assert.equal(checked, 18);
});

test('RFC 6238 Appendix B: the vectors also confirm a pending enrolment of each algorithm', () => {
  for (const { time, codes } of RFC6238) {
    for (const algorithm of ['SHA1', 'SHA256', 'SHA512'] as const) {
      const now = new Date(time * 1000);
      const cred = credentialFor(RFC_SEEDS[algorithm], cipher, { algorithm, digits: 8, status: 'pending', now });
      const result = confirmEnrollment(cred, seedOf(cred), codes[algorithm], now);
      assert.ok(result.ok && result.next.status === 'active', `${algorithm} at ${time}`);
    }
  }
});

test('RFC 6238 Appendix B: a vector is accepted one step late or early (±1) and refused two steps away', () => {
  const { time, codes } = RFC6238[3] as (typeof RFC6238)[number];
  const cred = credentialFor(RFC_SEEDS.SHA256, cipher, { algorithm: 'SHA256', digits: 8 });
  const seed = seedOf(cred);
  const at = (s: number) => verifyTotp(cred, seed, codes.SHA256, new Date(s * 1000));
  const late = at(time + 30);
  assert.ok(late.ok && late.drift === -1);
  const early = at(time - 30);
  assert.ok(early.ok && early.drift === 1);
  assert.deepEqual(at(time + 60), { ok: false, reason: 'mismatch' });
  assert.deepEqual(at(time - 60), { ok: false, reason: 'mismatch' });
});
