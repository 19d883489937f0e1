import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '@gatehouse/service-kit';
import { base64urlDecode, base64urlEncode } from './base64url.js';
import { ed25519PublicKey, normalizeIp, rawEd25519PublicKey, SESSION_KEYS_FILE_VARIABLE, StaticKeySource } from './index.js';
import { keyPair } from './test-support.js';

const a = keyPair();
const jwkOf = (kid: string, pub = a.publicKey) => ({ kty: 'OKP', crv: 'Ed25519', kid, x: base64urlEncode(rawEd25519PublicKey(pub)) });

describe('StaticKeySource', () => {
  test('holds public keys by kid, reducing a private key to its public half', async () => {
    const source = new StaticKeySource({ k1: a.publicKey, k2: a.privateKey });
    assert.deepEqual(source.keyIds(), ['k1', 'k2']);
    const k2 = await source.key('k2');
    assert.equal(k2?.type, 'public');
    assert.ok(k2?.equals(a.publicKey));
    assert.equal(await source.key('k3'), undefined);
    assert.equal(await source.key('__proto__'), undefined);
  });

  test('refuses keys that are not Ed25519, and bad key ids', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    assert.throws(() => new StaticKeySource({ k1: rsa.publicKey }), /must be Ed25519 keys/);
    assert.throws(() => new StaticKeySource({ 'bad kid': a.publicKey }), /key ids/);
  });

  test('reads a JWK Set of Ed25519 public keys', async () => {
    const b = keyPair();
    const source = StaticKeySource.fromJwks({ keys: [jwkOf('k1'), { ...jwkOf('k2', b.publicKey), alg: 'EdDSA', use: 'sig' }] });
    assert.ok((await source.key('k1'))?.equals(a.publicKey));
    assert.ok((await source.key('k2'))?.equals(b.publicKey));
  });

  test('refuses a JWK Set holding private keys, other key types, duplicates or bad encodings, naming each', () => {
    const priv = a.privateKey.export({ format: 'jwk' });
    assert.throws(() => StaticKeySource.fromJwks({ keys: [] }), /at least one key/);
    assert.throws(() => StaticKeySource.fromJwks([jwkOf('k1')]), /expected a JWK Set/);
    assert.throws(
      () =>
        StaticKeySource.fromJwks({
          keys: [
            { ...priv, kid: 'k0' },
            { kty: 'RSA', kid: 'k1', n: 'x', e: 'AQAB' },
            jwkOf('k2'),
            jwkOf('k2'),
            { ...jwkOf('k3'), x: 'AAAA' },
            { ...jwkOf('k4'), x: `${jwkOf('k4').x}=` },
            { ...jwkOf('k5'), alg: 'HS256' },
            'k6',
          ],
        }),
      (err: unknown) => {
        const m = (err as Error).message;
        assert.match(m, /keys\[0\]: holds a private key \(d\)/);
        assert.match(m, /keys\[1\]: expected kty "OKP" and crv "Ed25519"/);
        assert.match(m, /keys\[3\]: duplicate kid k2/);
        assert.match(m, /keys\[4\]: x must be the base64url of a 32-byte Ed25519 public key/);
        assert.match(m, /keys\[5\]: x must be the base64url/);
        assert.match(m, /keys\[6\]: alg must be "EdDSA"/);
        assert.match(m, /keys\[7\]: expected a JSON object/);
        assert.ok(!m.includes(String(priv.d)), 'never echoes private key material');
        return true;
      },
    );
  });

  test(`fromEnv reads ${SESSION_KEYS_FILE_VARIABLE}, and a bad file is a ConfigError naming the variable`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'session-keys-'));
    try {
      const file = path.join(dir, 'keys.json');
      fs.writeFileSync(file, JSON.stringify({ keys: [jwkOf('k1')] }));
      assert.equal(StaticKeySource.fromEnv({}), undefined);
      const source = StaticKeySource.fromEnv({ [SESSION_KEYS_FILE_VARIABLE]: file });
      assert.ok((await source?.key('k1'))?.equals(a.publicKey));
      fs.writeFileSync(file, '{ not json');
      assert.throws(
        () => StaticKeySource.fromEnv({ [SESSION_KEYS_FILE_VARIABLE]: file }),
        (err: unknown) => err instanceof ConfigError && /GATEHOUSE_SESSION_KEYS_FILE: .*keys\.json is not valid JSON/.test(err.message),
      );
      assert.throws(
        () => StaticKeySource.fromEnv({ [SESSION_KEYS_FILE_VARIABLE]: path.join(dir, 'missing.json') }),
        /GATEHOUSE_SESSION_KEYS_FILE: cannot read .*missing\.json: ENOENT/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('raw 32-byte public keys round-trip (common.v1.SigningKey.public_key)', () => {
    const raw = rawEd25519PublicKey(a.privateKey);
    assert.equal(raw.length, 32);
    assert.ok(ed25519PublicKey(raw).equals(a.publicKey));
    assert.throws(() => ed25519PublicKey(raw.subarray(1)), /32 bytes/);
  });
});

describe('base64url', () => {
  test('accepts only the canonical unpadded spelling', () => {
    assert.deepEqual(base64urlDecode('AQID'), Buffer.from([1, 2, 3]));
    assert.deepEqual(base64urlDecode('_-8'), Buffer.from([0xff, 0xef]));
    assert.deepEqual(base64urlDecode(''), Buffer.alloc(0));
    for (const bad of ['AQ==', 'AQ=', 'A', 'AB', 'AQ+/', 'AQ I', 'AQ\n', 'AR']) assert.equal(base64urlDecode(bad), undefined, bad);
  });
});

describe('normalizeIp', () => {
  test('folds IPv4-mapped IPv6 to IPv4 and writes IPv6 the one RFC 5952 way', () => {
    assert.equal(normalizeIp('10.1.2.3'), '10.1.2.3');
    assert.equal(normalizeIp('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(normalizeIp('::FFFF:0a01:0203'), '10.1.2.3');
    assert.equal(normalizeIp('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
    assert.equal(normalizeIp('[::1]'), '::1');
    assert.equal(normalizeIp('fe80::1%eth0'), 'fe80::1%eth0');
  });

  test('returns undefined for anything that is not an IP address', () => {
    for (const bad of ['', 'localhost', '10.1.2', '010.1.2.3', '0x7f.0.0.1', '1.2.3.4:80', '::g']) assert.equal(normalizeIp(bad), undefined, bad);
  });
});
