import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { StaticJwksSource, parseJwks, rsaThumbprint } from './index.js';
import { decodeBase64UrlStrict } from './compact-jws.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsa2 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = (key: typeof rsa.publicKey, extra: Record<string, unknown>): Record<string, unknown> => ({ ...key.export({ format: 'jwk' }), ...extra });

describe('parseJwks', () => {
  test('keeps RSA signing keys by kid and skips everything else', () => {
    const { keys, skipped } = parseJwks({
      keys: [
        jwk(rsa.publicKey, { kid: 'good', alg: 'RS256', use: 'sig' }),
        jwk(rsa2.publicKey, { kid: 'no-alg-no-use' }),
        jwk(ec.publicKey, { kid: 'ec', alg: 'ES256', use: 'sig' }),
        jwk(rsa.publicKey, { kid: 'enc', use: 'enc' }),
        jwk(rsa.publicKey, { kid: 'rs512', alg: 'RS512' }),
        jwk(rsa.publicKey, {}),
        { kty: 'RSA', kid: 'junk', n: '!!!', e: 'AQAB' },
        { kty: 'RSA', kid: 'empty', n: '', e: 'AQAB' },
        { kty: 'RSA', kid: 'zero-e', n: 'AQAB', e: 'AA' },
        { kty: 'RSA', kid: 'not-strings', n: 1, e: 2 },
        'not an object',
        null,
      ],
    });
    assert.deepEqual([...keys.keys()].sort(), ['good', 'no-alg-no-use']);
    assert.equal(skipped, 10);
    assert.equal(keys.get('good')?.type, 'public');
  });

  test('a kid listed twice is dropped: we cannot tell which key it means', () => {
    const { keys } = parseJwks({ keys: [jwk(rsa.publicKey, { kid: 'dup' }), jwk(rsa2.publicKey, { kid: 'dup' }), jwk(rsa.publicKey, { kid: 'ok' })] });
    assert.deepEqual([...keys.keys()], ['ok']);
  });

  test('a JWK carrying private members imports as a public key only', () => {
    const { keys } = parseJwks({ keys: [{ ...rsa.privateKey.export({ format: 'jwk' }), kid: 'priv' }] });
    assert.equal(keys.get('priv')?.type, 'public');
  });

  test('a document that is not a JWKS throws', () => {
    assert.throws(() => parseJwks(null), /keys/);
    assert.throws(() => parseJwks({ keys: 'x' }), /not an array/);
    assert.throws(() => parseJwks([]), /keys/);
  });
});

describe('rsaThumbprint', () => {
  test('matches the RFC 7638 §3.1 example', () => {
    const key = createPublicKey({
      format: 'jwk',
      key: {
        kty: 'RSA',
        e: 'AQAB',
        n:
          '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W' +
          '-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      },
    });
    assert.equal(rsaThumbprint(key), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  test('refuses non-RSA keys', () => {
    assert.throws(() => rsaThumbprint(ec.publicKey), /RSA/);
  });
});

describe('StaticJwksSource', () => {
  test('serves the keys it was given, from a Map or a record', async () => {
    assert.equal(await new StaticJwksSource({ a: rsa.publicKey }).key('a'), rsa.publicKey);
    assert.equal(await new StaticJwksSource(new Map([['a', rsa.publicKey]])).key('b'), undefined);
    assert.equal(await new StaticJwksSource({ a: rsa.publicKey }).key('__proto__'), undefined);
  });
});

describe('decodeBase64UrlStrict', () => {
  test('accepts only canonical unpadded base64url', () => {
    assert.equal(decodeBase64UrlStrict('ZQ')?.toString(), 'e');
    assert.equal(decodeBase64UrlStrict('ZR'), undefined); // non-zero padding bits
    assert.equal(decodeBase64UrlStrict('ZQ=='), undefined);
    assert.equal(decodeBase64UrlStrict('Z'), undefined); // impossible length
    assert.equal(decodeBase64UrlStrict('a+b/'), undefined);
    assert.equal(decodeBase64UrlStrict('ab cd'), undefined);
    assert.equal(decodeBase64UrlStrict(''), undefined);
    assert.deepEqual(decodeBase64UrlStrict('-_8'), Buffer.from([0xfb, 0xff]));
  });
});
