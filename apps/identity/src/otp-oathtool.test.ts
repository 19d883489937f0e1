// Live interoperability: codes from Debian's oathtool (installed by .ci/run), for fresh random
// seeds at random times, accepted by our verify functions (RFC 6238 / RFC 4226).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { OtpSeed, verifyHotp, verifyTotp, type OtpAlgorithm, type OtpDigits } from './domain/otp/index.js';
import { credentialFor, testCipher } from './domain/otp/otp-test-support.js';

const oathtool = (() => {
  try {
    execFileSync('oathtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const cipher = testCipher();

test('oathtool TOTP codes for random seeds and times are accepted (SHA1/SHA256/SHA512, 6 and 8 digits)', { skip: oathtool ? false : 'oathtool is not installed (.ci/run installs it)' }, () => {
  for (let i = 0; i < 12; i++) {
    const seed = randomBytes(20);
    const algorithm = (['SHA1', 'SHA256', 'SHA512'] as const)[i % 3] as OtpAlgorithm;
    const digits = (i % 2 === 0 ? 6 : 8) as OtpDigits;
    const time = randomInt(1_000_000_000, 2_000_000_000);
    const code = execFileSync('oathtool', [`--totp=${algorithm}`, '-d', String(digits), '-N', `@${time}`, seed.toString('hex')], { encoding: 'utf8' }).trim();
    const cred = credentialFor(seed, cipher, { algorithm, digits });
    const result = verifyTotp(cred, cipher.decrypt(cred.encryptedSeed, cred), code, new Date(time * 1000));
    assert.ok(result.ok, `${algorithm}/${digits} at ${time}`);
    const replay = verifyTotp({ ...cred, ...(result.ok ? result.next : {}) }, cipher.decrypt(cred.encryptedSeed, cred), code, new Date(time * 1000));
    assert.deepEqual(replay, { ok: false, reason: 'replayed' });
  }
});

test('oathtool HOTP codes are accepted within the look-ahead', { skip: oathtool ? false : 'oathtool is not installed (.ci/run installs it)' }, () => {
  const seed = randomBytes(20);
  for (const counter of [0, 3, 10]) {
    const code = execFileSync('oathtool', ['--hotp', '-d', '6', '-c', String(counter), seed.toString('hex')], { encoding: 'utf8' }).trim();
    const result = verifyHotp(credentialFor(seed, cipher, { kind: 'hotp' }), OtpSeed.fromBytes(seed), code);
    assert.ok(result.ok && result.counter === counter, `counter ${counter}`);
  }
});
