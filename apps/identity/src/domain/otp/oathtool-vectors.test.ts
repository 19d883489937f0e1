// Interoperability with a second, independent implementation: codes produced by Debian's
// oathtool (OATH Toolkit 2.6.7), recorded once with the commands below, run through our verify
// functions. (Domain code may not spawn processes; the live oathtool test belongs to the service
// suite that .ci/run installs oathtool for.)
//
//   KEY=$(printf 'gatehouse-oathtool-seed-0001' | xxd -p)
//   oathtool --totp=$ALG -d $DIGITS -N @$TIME $KEY
//   oathtool --hotp -d 6 -c $COUNTER $KEY
//   oathtool --totp -b -N @1700000000 <base32 of the seed>   # the otpauth URI's form: 441110
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OtpSeed, base32Encode, verifyHotp, verifyTotp } from './index.js';
import type { OtpAlgorithm, OtpDigits } from './index.js';
import { credentialFor, testCipher } from './otp-test-support.js';

const SEED = new TextEncoder().encode('gatehouse-oathtool-seed-0001');
const cipher = testCipher();

const TOTP: [OtpAlgorithm, OtpDigits, number, string][] = [
  ['SHA1', 6, 1700000000, '441110'],
  ['SHA1', 6, 1780000015, '647090'],
  ['SHA1', 8, 1700000000, '29441110'],
  ['SHA1', 8, 1780000015, '90647090'],
  ['SHA256', 6, 1700000000, '718632'],
  ['SHA256', 6, 1780000015, '022721'],
  ['SHA256', 8, 1700000000, '57718632'],
  ['SHA256', 8, 1780000015, '35022721'],
  ['SHA512', 6, 1700000000, '157595'],
  ['SHA512', 6, 1780000015, '600285'],
  ['SHA512', 8, 1700000000, '06157595'],
  ['SHA512', 8, 1780000015, '79600285'],
];

const HOTP: [number, string][] = [
  [0, '779376'],
  [1, '173922'],
  [9, '316144'],
  [10, '491047'],
  [11, '080646'],
  [12, '169735'],
];

test('oathtool TOTP codes (SHA1/SHA256/SHA512, 6 and 8 digits) are accepted by verifyTotp', () => {
  for (const [algorithm, digits, time, code] of TOTP) {
    const cred = credentialFor(SEED, cipher, { algorithm, digits });
    const seed = cipher.decrypt(cred.encryptedSeed, cred);
    const result = verifyTotp(cred, seed, code, new Date(time * 1000));
    assert.ok(result.ok && result.drift === 0, `${algorithm}/${digits} at ${time}`);
  }
});

test('oathtool HOTP codes are accepted by verifyHotp; counter 11 only once the counter has moved (look-ahead 10)', () => {
  for (const [counter, code] of HOTP) {
    const fromZero = verifyHotp(credentialFor(SEED, cipher, { kind: 'hotp' }), OtpSeed.fromBytes(SEED), code);
    if (counter <= 10) assert.ok(fromZero.ok && fromZero.counter === counter, `counter ${counter} from 0`);
    else assert.deepEqual(fromZero, { ok: false, reason: 'mismatch' }, `counter ${counter} from 0`);
    const atCounter = verifyHotp(credentialFor(SEED, cipher, { kind: 'hotp', counter }), OtpSeed.fromBytes(SEED), code);
    assert.ok(atCounter.ok && atCounter.counter === counter);
  }
});

test('the base32 we put in the otpauth URI is the key oathtool -b reads', () => {
  // oathtool --totp -b -N @1700000000 M5QXIZLIN52XGZJNN5QXI2DUN5XWYLLTMVSWILJQGAYDC  -> 441110 (the first TOTP row)
  assert.equal(base32Encode(SEED), 'M5QXIZLIN52XGZJNN5QXI2DUN5XWYLLTMVSWILJQGAYDC');
});
