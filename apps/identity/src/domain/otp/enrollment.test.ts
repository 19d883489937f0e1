// Seeds (RFC 4226 §4 R6: 160 bits from a CSPRNG), the otpauth:// Key URI Format, and EnrollOtp's
// domain half.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { InvalidArgumentError } from '@gatehouse/core';
import { ScureBase32Plugin, generateSync } from 'otplib';
import {
  OtpSeed,
  SEED_BYTES,
  base32Encode,
  cryptoRandom,
  newSeed,
  otpAt,
  otpauthUri,
  startEnrollment,
  validateEnrollment,
} from './index.js';
import { TestKeyring, seededRandom, testCipher } from './otp-test-support.js';
import { SeedCipher } from './seed-cipher.js';

const SEED = OtpSeed.fromBytes(Uint8Array.from({ length: 20 }, (_, i) => i * 13 + 1));
const SEED_B32 = base32Encode(SEED.reveal());

test('newSeed: 20 bytes (160 bits) from the injected random source; node:crypto by default', () => {
  const seed = newSeed(seededRandom(5));
  assert.equal(seed.byteLength, SEED_BYTES);
  assert.deepEqual(seed.reveal(), seededRandom(5).bytes(20));
  const a = newSeed();
  const b = newSeed(cryptoRandom);
  assert.equal(a.byteLength, 20);
  assert.notDeepEqual(a.reveal(), b.reveal());
});

test('newSeed fails closed on a broken random source', () => {
  assert.throws(() => newSeed({ bytes: (n) => new Uint8Array(n) }), /zeros/);
  assert.throws(() => newSeed({ bytes: () => new Uint8Array(16).fill(1) }), /16 bytes/);
});

test('OtpSeed: 16..64 bytes, and never printed by String, JSON or inspect', () => {
  assert.throws(() => OtpSeed.fromBytes(new Uint8Array(15)), RangeError);
  assert.throws(() => OtpSeed.fromBytes(new Uint8Array(65)), RangeError);
  const seed = OtpSeed.fromBytes(new TextEncoder().encode('CANARY-CANARY-CANARY'));
  for (const shown of [String(seed), `${seed}`, JSON.stringify({ seed }), inspect(seed), inspect({ nested: { seed } })]) {
    assert.ok(!shown.includes('CANARY'), shown);
    assert.ok(shown.includes('redacted'));
  }
  // fromBytes copies, destroy wipes.
  const src = new Uint8Array(20).fill(4);
  const copy = OtpSeed.fromBytes(src);
  src.fill(0);
  assert.deepEqual(copy.reveal(), new Uint8Array(20).fill(4));
  copy.destroy();
  assert.deepEqual(copy.reveal(), new Uint8Array(20));
});

test('seeds are base32 as authenticator apps read them (RFC 6238 seed), and otplib decodes it back', () => {
  assert.equal(base32Encode(new TextEncoder().encode('12345678901234567890')), 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
  assert.deepEqual(new ScureBase32Plugin().decode(SEED_B32), SEED.reveal());
});

test('otpauthUri TOTP: the exact Key URI Format string', () => {
  const uri = otpauthUri({ kind: 'totp', algorithm: 'SHA1', digits: 6, period: 30, issuer: 'Gatehouse', account: 'jane@example.com', secret: SEED });
  assert.equal(uri, `otpauth://totp/Gatehouse:jane%40example.com?secret=${SEED_B32}&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30`);
  const sha = otpauthUri({ kind: 'totp', algorithm: 'SHA512', digits: 8, issuer: 'Gatehouse', account: 'j@x.io', secret: SEED });
  assert.match(sha, /&algorithm=SHA512&digits=8&period=30$/);
});

test('otpauthUri HOTP: counter instead of period (default 0)', () => {
  const uri = otpauthUri({ kind: 'hotp', algorithm: 'SHA1', digits: 6, issuer: 'Gatehouse', account: 'jane@example.com', secret: SEED });
  assert.equal(uri, `otpauth://hotp/Gatehouse:jane%40example.com?secret=${SEED_B32}&issuer=Gatehouse&algorithm=SHA1&digits=6&counter=0`);
  assert.match(otpauthUri({ kind: 'hotp', algorithm: 'SHA1', digits: 6, counter: 42, issuer: 'G', account: 'a', secret: SEED }), /&counter=42$/);
});

test('otpauthUri escapes label and issuer (RFC 3986 percent-encoding, %20 not +) and parses back', () => {
  const account = 'jane doe+ops&x=1#frag/?@example.com';
  const issuer = 'Gate house & Co';
  const uri = otpauthUri({ kind: 'totp', algorithm: 'SHA256', digits: 6, issuer, account, secret: SEED });
  assert.ok(uri.startsWith('otpauth://totp/Gate%20house%20%26%20Co:jane%20doe%2Bops%26x%3D1%23frag%2F%3F%40example.com?'));
  assert.ok(!uri.includes('+'));
  const url = new URL(uri);
  assert.equal(url.protocol, 'otpauth:');
  assert.equal(url.host, 'totp');
  const [labelIssuer, labelAccount] = decodeURIComponent(url.pathname.slice(1)).split(':');
  assert.equal(labelIssuer, issuer);
  assert.equal(labelAccount, account);
  assert.equal(url.searchParams.get('issuer'), issuer);
  assert.equal(url.searchParams.get('secret'), SEED_B32);
  assert.equal(url.hash, '');
  // Unicode is encoded as UTF-8.
  assert.match(otpauthUri({ kind: 'totp', algorithm: 'SHA1', digits: 6, issuer: 'Gatehouse', account: 'zoë@例え.jp', secret: SEED }), /Gatehouse:zo%C3%AB%40%E4%BE%8B%E3%81%88\.jp\?/);
});

test('otpauthUri refuses colons, empty, control characters, bad Unicode and bad parameters', () => {
  const base = { kind: 'totp', algorithm: 'SHA1', digits: 6, issuer: 'Gatehouse', account: 'a@b.c', secret: SEED } as const;
  const bad: [Partial<Parameters<typeof otpauthUri>[0]>, string][] = [
    [{ account: 'evil:Gatehouse' }, 'account'],
    [{ issuer: 'Gate:house' }, 'issuer'],
    [{ account: '' }, 'account'],
    [{ account: '   ' }, 'account'],
    [{ account: 'a\nb' }, 'account'],
    [{ account: 'a\u0000b' }, 'account'],
    [{ account: '\ud800' }, 'account'],
    [{ account: 'x'.repeat(257) }, 'account'],
    [{ digits: 7 as 6 }, 'digits'],
    [{ algorithm: 'MD5' as 'SHA1' }, 'algorithm'],
    [{ period: 0 }, 'period'],
    [{ kind: 'hotp', counter: -1 }, 'counter'],
  ];
  for (const [override, field] of bad) {
    assert.throws(() => otpauthUri({ ...base, ...override }), (err: unknown) => err instanceof InvalidArgumentError && err.field === field, field);
  }
});

test('an authenticator reading the URI (otplib from the base32 string) computes the codes we verify', () => {
  const uri = otpauthUri({ kind: 'totp', algorithm: 'SHA256', digits: 8, issuer: 'Gatehouse', account: 'a@b.c', secret: SEED });
  const secret = new URL(uri).searchParams.get('secret') as string;
  for (const t of [0, 59, 1_700_000_000]) {
    const app = generateSync({ secret, strategy: 'totp', epoch: t, period: 30, algorithm: 'sha256', digits: 8 });
    assert.equal(app, otpAt(SEED, 'SHA256', 8, Math.floor(t / 30)));
  }
});

test('startEnrollment: a pending credential with an encrypted, row-bound seed and the URI shown once', () => {
  const keyring = new TestKeyring();
  const cipher = new SeedCipher(keyring);
  const now = new Date(Date.UTC(2026, 4, 1));
  const { credential, otpauthUri: uri } = startEnrollment(
    { credentialId: 'c-9', accountId: 'a-9', accountName: 'jane@example.com', kind: 'totp', algorithm: 'SHA1', digits: 6, label: 'phone', now },
    cipher,
    seededRandom(77),
  );
  assert.equal(credential.status, 'pending');
  assert.deepEqual(credential.confirmBy, new Date(now.getTime() + 10 * 60_000));
  assert.equal(credential.lastAcceptedStep, -1);
  assert.equal(credential.counter, 0);
  assert.equal(credential.driftSteps, 0);
  assert.equal(credential.period, 30);
  assert.equal(credential.label, 'phone');
  assert.equal(credential.activatedAt, null);
  const seed = cipher.decrypt(credential.encryptedSeed, { credentialId: 'c-9', accountId: 'a-9' });
  assert.deepEqual(seed.reveal(), seededRandom(77).bytes(20));
  assert.ok(uri.startsWith('otpauth://totp/Gatehouse:jane%40example.com?secret='));
  assert.equal(new URL(uri).searchParams.get('secret'), base32Encode(seed.reveal()));
  // Nothing in the stored credential carries the seed in clear.
  const stored = JSON.stringify(credential);
  assert.ok(!stored.includes(base32Encode(seed.reveal())));
  assert.ok(!stored.includes(Buffer.from(seed.reveal()).toString('hex')));
  assert.ok(!stored.includes(Buffer.from(seed.reveal()).toString('base64')));
});

test('startEnrollment refuses unsupported combinations with InvalidArgumentError naming the field', () => {
  const req = { credentialId: 'c', accountId: 'a', accountName: 'a@b.c', kind: 'totp', algorithm: 'SHA1', digits: 6, now: new Date() } as const;
  const isArg = (field: string) => (err: unknown) => err instanceof InvalidArgumentError && err.field === field;
  assert.throws(() => startEnrollment({ ...req, kind: 'hotp', algorithm: 'SHA256' }, testCipher()), isArg('algorithm'));
  assert.throws(() => startEnrollment({ ...req, digits: 7 as 6 }, testCipher()), isArg('digits'));
  assert.throws(() => startEnrollment({ ...req, kind: 'sms' as 'totp' }, testCipher()), isArg('kind'));
  assert.throws(() => startEnrollment({ ...req, label: 'x'.repeat(65) }, testCipher()), isArg('label'));
  assert.doesNotThrow(() => validateEnrollment('hotp', 'SHA1', 8));
  assert.doesNotThrow(() => validateEnrollment('totp', 'SHA512', 8));
  const hotp = startEnrollment({ ...req, kind: 'hotp' }, testCipher());
  assert.match(hotp.otpauthUri, /^otpauth:\/\/hotp\/.*&counter=0$/);
});
