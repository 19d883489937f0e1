import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, createPublicKey, generateKeyPair, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { ManualClock, PermissionDeniedError, UnauthenticatedError, UnavailableError } from '@gatehouse/core';
import type { DomainError } from '@gatehouse/core';
import {
  DEV_ISSUER,
  DevIdTokenIssuer,
  DevJwksSource,
  GOOGLE_ISSUER,
  GoogleTokenVerifier,
  StaticJwksSource,
  parseJwks,
} from './index.js';
import type { GoogleTokenVerifierConfig, JwksSource } from './index.js';

const generate = promisify(generateKeyPair);

// Keys: Google's (the one in the JWKS), an attacker's, a weak one, an EC one, one with e = 3.
const [google, attacker, weak, ec, smallExponent] = await Promise.all([
  generate('rsa', { modulusLength: 2048 }),
  generate('rsa', { modulusLength: 2048 }),
  generate('rsa', { modulusLength: 1024 }),
  generate('ec', { namedCurve: 'P-256' }),
  generate('rsa', { modulusLength: 2048, publicExponent: 3 }),
]);

const KID = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
const WEAK_KID = 'weak-1024';
const EC_KID = 'ec-p256';
const E3_KID = 'rsa-e3';
const CLIENT_ID = '1234567890-abc.apps.googleusercontent.com';
const OTHER_CLIENT_ID = '999-other.apps.googleusercontent.com';
const NOW = Date.UTC(2026, 2, 10, 12, 0, 0);
const NOW_S = NOW / 1000;

/** The JWKS as Google would serve it, with a weak key slipped in. */
const jwksDocument = {
  keys: [
    { ...google.publicKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' },
    { ...weak.publicKey.export({ format: 'jwk' }), kid: WEAK_KID, alg: 'RS256', use: 'sig' },
  ],
};
const parsed = parseJwks(jwksDocument);
const googleJwks = new StaticJwksSource(
  new Map([...parsed.keys, [EC_KID, ec.publicKey], [E3_KID, smallExponent.publicKey]]),
);

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    iss: 'https://accounts.google.com',
    azp: CLIENT_ID,
    aud: CLIENT_ID,
    sub: '110169484474386276334',
    hd: 'example.com',
    email: 'alice@example.com',
    email_verified: true,
    name: 'Alice Example',
    iat: NOW_S - 10,
    exp: NOW_S - 10 + 3600,
  };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base;
}

function header(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = { alg: 'RS256', kid: KID, typ: 'JWT' };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base;
}

/** An RS256 token, signed with `key` (Google's by default). Header and payload may be raw text. */
function rs256(payload: unknown = claims(), hdr: unknown = header(), key: KeyObject = google.privateKey): string {
  const input = `${b64(hdr)}.${b64(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

function hmacToken(alg: 'HS256' | 'HS384' | 'HS512', secret: Buffer | string, hdrAlg: string = alg): string {
  const input = `${b64(header({ alg: hdrAlg }))}.${b64(claims())}`;
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg];
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}

function verifier(overrides: Partial<GoogleTokenVerifierConfig> = {}, clock = new ManualClock(NOW)): GoogleTokenVerifier {
  return new GoogleTokenVerifier({
    clientIds: [CLIENT_ID],
    allowedHostedDomains: [],
    jwks: googleJwks,
    clock,
    ...overrides,
  });
}

/** Asserts `token` is refused with `kind` and a message matching `message`, never echoing the token. */
async function refused(
  v: GoogleTokenVerifier,
  token: string,
  message: RegExp,
  kind: new (...args: never[]) => DomainError = UnauthenticatedError,
): Promise<void> {
  await assert.rejects(v.verify(token), (err: unknown) => {
    assert.ok(err instanceof kind, `expected ${kind.name}, got ${String(err)}`);
    assert.match(err.message, message);
    for (const part of String(token ?? '').split('.')) {
      if (part.length >= 8) assert.ok(!err.message.includes(part), 'the message echoes the token');
    }
    return true;
  });
}

describe('GoogleTokenVerifier: valid tokens', () => {
  test('a valid Google ID token yields the identity, keyed by issuer + subject', async () => {
    const id = await verifier({ allowedHostedDomains: ['example.com'] }).verify(rs256());
    assert.deepEqual(id, {
      issuer: GOOGLE_ISSUER,
      subject: '110169484474386276334',
      email: 'alice@example.com',
      emailVerified: true,
      hostedDomain: 'example.com',
      name: 'Alice Example',
      issuedAt: new Date((NOW_S - 10) * 1000),
      expiresAt: new Date((NOW_S - 10 + 3600) * 1000),
    });
  });

  test('both spellings of Google\'s issuer give the same canonical issuer (one account, not two)', async () => {
    const v = verifier();
    const a = await v.verify(rs256(claims({ iss: 'accounts.google.com' })));
    const b = await v.verify(rs256(claims({ iss: 'https://accounts.google.com' })));
    assert.equal(a.issuer, GOOGLE_ISSUER);
    assert.equal(b.issuer, GOOGLE_ISSUER);
  });

  test('email_verified as the string "true" (as Google sometimes sends it) is accepted', async () => {
    const id = await verifier().verify(rs256(claims({ email_verified: 'true' })));
    assert.equal(id.emailVerified, true);
  });

  test('a consumer account without hd is accepted when no hosted domain is required', async () => {
    const id = await verifier().verify(rs256(claims({ hd: undefined, name: undefined, email: 'bob@gmail.com' })));
    assert.equal(id.hostedDomain, undefined);
    assert.equal('name' in id, false);
  });

  test('hd is compared case-insensitively against the allowed domains', async () => {
    const id = await verifier({ allowedHostedDomains: ['Example.COM', 'other.org'] }).verify(rs256(claims({ hd: 'EXAMPLE.com' })));
    assert.equal(id.hostedDomain, 'example.com');
  });

  test('aud as a one-element array holding our client id is accepted; so is any of several client ids', async () => {
    await verifier().verify(rs256(claims({ aud: [CLIENT_ID] })));
    await verifier({ clientIds: [OTHER_CLIENT_ID, CLIENT_ID] }).verify(rs256());
  });

  test('exp and iat within the leeway are accepted', async () => {
    const v = verifier();
    await v.verify(rs256(claims({ iat: NOW_S - 3600, exp: NOW_S - 59 })));
    await v.verify(rs256(claims({ iat: NOW_S + 59, exp: NOW_S + 3600 })));
    await v.verify(rs256(claims({ nbf: NOW_S + 59 })));
  });
});

describe('GoogleTokenVerifier: time claims', () => {
  test('expired beyond the leeway', async () => {
    await refused(verifier(), rs256(claims({ iat: NOW_S - 7200, exp: NOW_S - 61 })), /^ID token has expired$/);
    await refused(verifier(), rs256(claims({ iat: NOW_S - 7200, exp: NOW_S - 60 })), /has expired/);
    await refused(verifier({ leewaySeconds: 0 }), rs256(claims({ iat: NOW_S - 7200, exp: NOW_S })), /has expired/);
  });

  test('the clock moving past exp + leeway turns a valid token down', async () => {
    const clock = new ManualClock(NOW);
    const v = verifier({}, clock);
    const token = rs256();
    await v.verify(token);
    clock.advance((3600 - 10 + 60) * 1000);
    await refused(v, token, /has expired/);
  });

  test('iat in the future beyond the leeway (not yet valid)', async () => {
    await refused(verifier(), rs256(claims({ iat: NOW_S + 61, exp: NOW_S + 3600 })), /iat is in the future: the token is not yet valid/);
  });

  test('nbf in the future beyond the leeway', async () => {
    await refused(verifier(), rs256(claims({ nbf: NOW_S + 120 })), /not yet valid \(nbf is in the future\)/);
  });

  test('missing or non-numeric exp / iat', async () => {
    await refused(verifier(), rs256(claims({ exp: undefined })), /has no exp/);
    await refused(verifier(), rs256(claims({ iat: undefined })), /has no iat/);
    await refused(verifier(), rs256(claims({ exp: String(NOW_S + 3600) })), /exp is not a valid NumericDate/);
    await refused(verifier(), rs256(claims({ iat: NOW_S + 100, exp: NOW_S + 50 })), /exp is not after iat|iat is in the future/);
    await refused(verifier(), rs256(claims({ iat: NOW_S, exp: NOW_S })), /exp is not after iat/);
  });

  test('leeway is capped: a config asking for more than 5 minutes is refused at construction', () => {
    assert.throws(() => verifier({ leewaySeconds: 3600 }), /leewaySeconds/);
  });
});

describe('GoogleTokenVerifier: issuer and audience', () => {
  test('wrong iss', async () => {
    for (const iss of ['https://evil.example', 'accounts.google.com.evil.example', 'http://accounts.google.com', 'https://accounts.google.com/', 'ACCOUNTS.GOOGLE.COM']) {
      await refused(verifier(), rs256(claims({ iss })), /^ID token iss is not a trusted issuer$/);
    }
    await refused(verifier(), rs256(claims({ iss: undefined })), /has no iss/);
    await refused(verifier(), rs256(claims({ iss: ['https://accounts.google.com'] })), /iss is not a string/);
  });

  test('an issuer left out of allowedIssuers is refused', async () => {
    await refused(verifier({ allowedIssuers: ['https://accounts.google.com'] }), rs256(claims({ iss: 'accounts.google.com' })), /iss is not a trusted issuer/);
  });

  test('allowedIssuers cannot name anything but Google\'s issuers (the dev issuer least of all)', () => {
    assert.throws(() => verifier({ allowedIssuers: [DEV_ISSUER] }), /allowedIssuers/);
    assert.throws(() => verifier({ allowedIssuers: ['https://evil.example'] }), /allowedIssuers/);
    assert.throws(() => verifier({ allowedIssuers: [] }), /allowedIssuers/);
  });

  test('wrong aud', async () => {
    await refused(verifier(), rs256(claims({ aud: OTHER_CLIENT_ID })), /^ID token aud is not a configured client id$/);
    await refused(verifier(), rs256(claims({ aud: undefined })), /has no aud/);
    await refused(verifier(), rs256(claims({ aud: 42 })), /aud is not a string or an array of strings/);
  });

  test('aud array with an untrusted extra audience', async () => {
    await refused(verifier(), rs256(claims({ aud: [CLIENT_ID, OTHER_CLIENT_ID] })), /aud contains an audience that is not a configured client id/);
    await refused(verifier(), rs256(claims({ aud: [OTHER_CLIENT_ID, CLIENT_ID] })), /aud contains an audience that is not a configured client id/);
    await refused(verifier(), rs256(claims({ aud: [] })), /aud contains an audience that is not a configured client id/);
    await refused(verifier(), rs256(claims({ aud: [CLIENT_ID, 7] })), /aud contains an audience that is not a configured client id/);
  });

  test('aud array naming two of our own client ids is refused too (exactly one)', async () => {
    await refused(verifier({ clientIds: [CLIENT_ID, OTHER_CLIENT_ID] }), rs256(claims({ aud: [CLIENT_ID, OTHER_CLIENT_ID] })), /aud must name exactly one client id/);
  });

  test('a verifier without a client id cannot be built', () => {
    assert.throws(() => verifier({ clientIds: [] }), /client id/);
    assert.throws(() => verifier({ clientIds: [' '] }), /client id/);
  });
});

describe('GoogleTokenVerifier: subject, e-mail and hosted domain', () => {
  test('sub missing or empty', async () => {
    await refused(verifier(), rs256(claims({ sub: undefined })), /has no sub/);
    await refused(verifier(), rs256(claims({ sub: '' })), /has no sub/);
    await refused(verifier(), rs256(claims({ sub: 12345 })), /has no sub/);
  });

  test('email missing', async () => {
    await refused(verifier(), rs256(claims({ email: undefined })), /has no email/);
  });

  test('email_verified false, "false", missing or truthy-but-not-true', async () => {
    for (const value of [false, 'false', undefined, 1, 'yes', 'TRUE', null]) {
      await refused(verifier(), rs256(claims({ email_verified: value })), /^ID token email is not verified \(email_verified must be true\)$/);
    }
  });

  test('hd missing when a hosted domain is required: PERMISSION_DENIED', async () => {
    await refused(
      verifier({ allowedHostedDomains: ['example.com'] }),
      rs256(claims({ hd: undefined, email: 'alice@gmail.com' })),
      /has no hosted domain \(hd\), and one is required/,
      PermissionDeniedError,
    );
  });

  test('hd not in the allowed list: PERMISSION_DENIED', async () => {
    await refused(verifier({ allowedHostedDomains: ['example.com'] }), rs256(claims({ hd: 'evil.example' })), /hosted domain \(hd\) is not allowed/, PermissionDeniedError);
    await refused(verifier({ allowedHostedDomains: ['example.com'] }), rs256(claims({ hd: 'sub.example.com' })), /hosted domain \(hd\) is not allowed/, PermissionDeniedError);
  });

  test('a malformed hd is refused even when no domain is required', async () => {
    await refused(verifier(), rs256(claims({ hd: '' })), /hd is not a valid domain/);
    await refused(verifier(), rs256(claims({ hd: ['example.com'] })), /hd is not a valid domain/);
  });

  test('the hosted-domain verdict comes only after the signature: a forged hd token is UNAUTHENTICATED', async () => {
    await refused(verifier({ allowedHostedDomains: ['example.com'] }), rs256(claims({ hd: 'evil.example' }), header(), attacker.privateKey), /signature is invalid/);
  });
});

describe('GoogleTokenVerifier: keys', () => {
  test('unknown kid', async () => {
    await refused(verifier(), rs256(claims(), header({ kid: 'no-such-key' })), /^ID token is signed with an unknown key \(kid not in the issuer's JWKS\)$/);
  });

  test('the source is asked once per token (it decides whether to refresh)', async () => {
    const asked: string[] = [];
    const source: JwksSource = { key: async (kid) => (asked.push(kid), undefined) };
    await refused(verifier({ jwks: source }), rs256(claims(), header({ kid: 'rotated-away' })), /unknown key/);
    assert.deepEqual(asked, ['rotated-away']);
  });

  test('missing or invalid kid', async () => {
    await refused(verifier(), rs256(claims(), header({ kid: undefined })), /^ID token header has no kid \(key id\)$/);
    await refused(verifier(), rs256(claims(), header({ kid: '' })), /header kid is invalid/);
    await refused(verifier(), rs256(claims(), header({ kid: 7 })), /header kid is invalid/);
    await refused(verifier(), rs256(claims(), header({ kid: 'k'.repeat(257) })), /header kid is invalid/);
  });

  test('a weak 1024-bit RSA key in the JWKS is refused even with a valid signature', async () => {
    assert.ok(parsed.keys.has(WEAK_KID), 'the weak key is in the JWKS');
    await refused(verifier(), rs256(claims(), header({ kid: WEAK_KID }), weak.privateKey), /signing key is too weak: RSA keys must have at least 2048 bits/);
  });

  test('an RSA key with a small public exponent (e = 3) is refused', async () => {
    await refused(verifier(), rs256(claims(), header({ kid: E3_KID }), smallExponent.privateKey), /unsafe RSA public exponent/);
  });

  test('a non-RSA key under an RS256 header is refused', async () => {
    await refused(verifier(), rs256(claims(), header({ kid: EC_KID }), ec.privateKey), /signing key is not an RSA public key/);
  });

  test('a JwksSource that fails gives UNAVAILABLE, not a verdict on the token', async () => {
    const broken: JwksSource = { key: async () => { throw new Error('connect ECONNREFUSED'); } };
    await refused(verifier({ jwks: broken }), rs256(), /signing keys are unavailable/, UnavailableError);
  });
});

describe('GoogleTokenVerifier: algorithm confusion and forged signatures', () => {
  test('alg none, in several spellings, with and without a signature', async () => {
    const realSig = rs256().split('.')[2] as string;
    for (const alg of ['none', 'None', 'NONE', 'nOnE', ' none', 'none ']) {
      const unsigned = `${b64(header({ alg }))}.${b64(claims())}`;
      for (const token of [`${unsigned}.`, `${unsigned}.${realSig}`, `${unsigned}.${randomBytes(256).toString('base64url')}`]) {
        await refused(verifier(), token, /^ID token alg "none" is refused: only RS256 signatures are accepted$/);
      }
    }
    // Without a kid either, as most alg-none exploits send it.
    await refused(verifier(), `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`, /alg "none" is refused/);
    // And with the signature part dropped altogether (two parts).
    await refused(verifier(), `${b64({ alg: 'none' })}.${b64(claims())}`, /malformed: expected three/);
  });

  test('a missing or non-string alg', async () => {
    await refused(verifier(), rs256(claims(), header({ alg: undefined })), /header has no alg/);
    await refused(verifier(), rs256(claims(), header({ alg: ['RS256'] })), /header alg is not a string/);
    await refused(verifier(), rs256(claims(), header({ alg: null })), /header alg is not a string/);
  });

  test('HS256 signed with the RSA public key as PEM (the classic key-confusion attack)', async () => {
    const pem = google.publicKey.export({ type: 'spki', format: 'pem' });
    const pkcs1Pem = google.publicKey.export({ type: 'pkcs1', format: 'pem' });
    await refused(verifier(), hmacToken('HS256', pem), /^ID token alg HS256 \(HMAC\) is refused: only RS256 signatures are accepted$/);
    await refused(verifier(), hmacToken('HS256', pkcs1Pem), /alg HS256 \(HMAC\) is refused/);
    await refused(verifier(), hmacToken('HS384', pem), /alg HS384 \(HMAC\) is refused/);
    await refused(verifier(), hmacToken('HS512', pem), /alg HS512 \(HMAC\) is refused/);
    await refused(verifier(), hmacToken('HS256', pem, 'hs256'), /alg HS\* \(HMAC\) is refused/);
  });

  test('HS256 signed with the RSA public key as DER bytes', async () => {
    const spki = google.publicKey.export({ type: 'spki', format: 'der' });
    const pkcs1 = google.publicKey.export({ type: 'pkcs1', format: 'der' });
    await refused(verifier(), hmacToken('HS256', spki), /alg HS256 \(HMAC\) is refused/);
    await refused(verifier(), hmacToken('HS256', pkcs1), /alg HS256 \(HMAC\) is refused/);
  });

  test('an HMAC made with the public key but labelled RS256 fails the signature check', async () => {
    const pem = google.publicKey.export({ type: 'spki', format: 'pem' });
    await refused(verifier(), hmacToken('HS256', pem, 'RS256'), /^ID token signature is invalid$/);
  });

  test('ES256 and every other alg than RS256', async () => {
    const es256Input = `${b64(header({ alg: 'ES256', kid: EC_KID }))}.${b64(claims())}`;
    const es256 = `${es256Input}.${sign('sha256', Buffer.from(es256Input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    await refused(verifier(), es256, /^ID token alg ES256 is refused: only RS256 signatures are accepted$/);
    for (const alg of ['RS384', 'RS512', 'PS256', 'EdDSA', 'rs256', 'RS256 ']) {
      await refused(verifier(), rs256(claims(), header({ alg })), /is refused: only RS256 signatures are accepted/);
    }
    await refused(verifier(), rs256(claims(), header({ alg: 'RS256\u0000' })), /alg \(unrecognised\) is refused/);
  });

  test('RS256 signed by another key under Google\'s kid', async () => {
    await refused(verifier(), rs256(claims(), header(), attacker.privateKey), /^ID token signature is invalid$/);
  });

  test('a tampered payload or header', async () => {
    const [h, , s] = rs256().split('.') as [string, string, string];
    const evil = b64(claims({ email: 'mallory@example.com', sub: '1' }));
    await refused(verifier(), `${h}.${evil}.${s}`, /^ID token signature is invalid$/);
    const [, p, s2] = rs256().split('.') as [string, string, string];
    await refused(verifier(), `${b64(header({ typ: 'jwt' }))}.${p}.${s2}`, /signature is invalid/);
  });

  test('a signature of the wrong length, or truncated', async () => {
    const token = rs256();
    await refused(verifier(), token.slice(0, -4), /signature is invalid|malformed/);
    await refused(verifier(), `${token}AAAA`, /signature is invalid/);
    await refused(verifier(), `${token.slice(0, token.lastIndexOf('.'))}.${Buffer.alloc(256).toString('base64url')}`, /signature is invalid/);
  });

  test('critical header extensions and a typ other than JWT', async () => {
    await refused(verifier(), rs256(claims(), header({ crit: ['b64'], b64: false })), /critical extensions \(crit\)/);
    await refused(verifier(), rs256(claims(), header({ typ: 'at+jwt' })), /typ must be JWT/);
  });
});

describe('GoogleTokenVerifier: malformed and oversized input', () => {
  test('oversized token', async () => {
    const big = rs256(claims({ name: 'x'.repeat(9000) }));
    await refused(verifier(), big, /^ID token is too large \(over 8192 bytes\)$/);
    await refused(verifier({ maxTokenBytes: 1024 }), rs256(claims({ name: 'y'.repeat(1200) })), /too large \(over 1024 bytes\)/);
    await refused(verifier(), 'é'.repeat(5000), /too large/);
  });

  test('not three base64url parts', async () => {
    const token = rs256();
    for (const bad of ['abc', 'a.b', `${token}.extra`, '..', `.${token.split('.')[1]}.${token.split('.')[2]}`, 'a..c']) {
      await refused(verifier(), bad, /^ID token is malformed: expected three dot-separated base64url parts$/);
    }
    await refused(verifier(), '', /^ID token is missing$/);
    await refused(verifier(), undefined as unknown as string, /is missing/);
  });

  test('invalid base64url: standard alphabet, padding, junk, non-canonical bits', async () => {
    const [h, p, s] = rs256().split('.') as [string, string, string];
    const std = Buffer.from(JSON.stringify(header())).toString('base64');
    await refused(verifier(), `${std}=.${p}.${s}`, /malformed: the header is not valid base64url/);
    await refused(verifier(), `${h}==.${p}.${s}`, /malformed: the header is not valid base64url/);
    await refused(verifier(), `${h}.${p}!.${s}`, /malformed: the payload is not valid base64url/);
    await refused(verifier(), `${h}.${p} .${s}`, /malformed: the payload is not valid base64url/);
    await refused(verifier(), `${h}.${p}.${s.slice(0, -1)}+`, /malformed: the signature is not valid base64url/);
    // 'ZZ' and 'ZQ' both decode to 'e' with Node's lenient decoder; only 'ZQ' is canonical.
    await refused(verifier(), `${h}.${p}.${s}Z`, /malformed: the signature is not valid base64url/);
    await refused(verifier(), `ZZ.${p}.${s}`, /malformed: the header is not valid base64url/);
  });

  test('bad JSON, JSON that is not an object, and invalid UTF-8', async () => {
    const [, p, s] = rs256().split('.') as [string, string, string];
    await refused(verifier(), `${b64('{"alg":"RS256",')}.${p}.${s}`, /malformed: the header is not valid JSON/);
    await refused(verifier(), `${b64('[1,2]')}.${p}.${s}`, /malformed: the header is not a JSON object/);
    await refused(verifier(), `${b64('null')}.${p}.${s}`, /malformed: the header is not a JSON object/);
    await refused(verifier(), `${b64('"RS256"')}.${p}.${s}`, /malformed: the header is not a JSON object/);
    await refused(verifier(), `${b64(header())}.${b64('not json')}.${s}`, /malformed: the payload is not valid JSON/);
    await refused(verifier(), `${b64(header())}.${b64('42')}.${s}`, /malformed: the payload is not a JSON object/);
    const badUtf8 = Buffer.concat([Buffer.from('{"alg":"RS256","kid":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]).toString('base64url');
    await refused(verifier(), `${badUtf8}.${p}.${s}`, /malformed: the header is not valid JSON/);
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(header()))]).toString('base64url');
    await refused(verifier(), `${bom}.${p}.${s}`, /malformed: the header is not valid JSON/);
  });

  test('duplicate member names, including escaped spellings, are refused', async () => {
    const payload = JSON.stringify(claims());
    await refused(verifier(), rs256(claims(), `{"alg":"none","alg":"RS256","kid":"${KID}"}`), /the header has duplicate member names/);
    await refused(verifier(), rs256(claims(), `{"alg":"RS256","\\u0061lg":"RS256","kid":"${KID}"}`), /the header has duplicate member names/);
    const dupIss = `${payload.slice(0, -1)},"iss":"https://evil.example"}`;
    await refused(verifier(), rs256(dupIss), /the payload has duplicate member names/);
    // Same names in different objects, or in strings, are fine.
    const nested = `${payload.slice(0, -1)},"extra":{"iss":"x","aud":["iss","iss"]}}`;
    await verifier().verify(rs256(nested));
  });

  test('__proto__ in the header or payload cannot smuggle members', async () => {
    const hdr = `{"__proto__":{"alg":"RS256","kid":"${KID}"}}`;
    await refused(verifier(), rs256(claims(), hdr), /header has no alg/);
    const payload = JSON.stringify(claims({ email_verified: undefined }));
    await refused(verifier(), rs256(`${payload.slice(0, -1)},"__proto__":{"email_verified":true}}`), /email is not verified/);
  });
});

describe('GoogleTokenVerifier: dev issuer', () => {
  const clock = new ManualClock(NOW);
  const dev = new DevIdTokenIssuer({ clock });

  test('a dev token is refused outside dev mode, with a message saying so', async () => {
    const token = dev.issue({ email: 'dev@example.com', audience: CLIENT_ID });
    await refused(verifier({}, clock), token, /^ID token is from the local dev issuer: dev tokens are refused outside dev mode$/);
    // devMode alone, without the dev keys, is not enough either.
    await refused(verifier({ devMode: true }, clock), token, /dev tokens are refused outside dev mode/);
  });

  test('dev keys without dev mode is a configuration error', () => {
    assert.throws(() => verifier({ devIssuerKeys: dev.jwksSource() }, clock), /devMode/);
    assert.throws(() => verifier({ devMode: false, devIssuerKeys: dev.jwksSource() }, clock), /devMode/);
  });

  test('a dev token is accepted in dev mode with the dev keys', async () => {
    const v = verifier({ devMode: true, devIssuerKeys: dev.jwksSource(), allowedHostedDomains: ['example.com'] }, clock);
    assert.equal(v.acceptsDevTokens, true);
    const id = await v.verify(dev.issue({ email: 'dev@example.com', audience: CLIENT_ID, name: 'Dev User' }));
    assert.equal(id.issuer, DEV_ISSUER);
    assert.equal(id.email, 'dev@example.com');
    assert.equal(id.hostedDomain, 'example.com');
    assert.equal(id.name, 'Dev User');
    assert.match(id.subject, /^\d{21}$/);
    // Google tokens are still accepted in dev mode.
    assert.equal((await v.verify(rs256())).issuer, GOOGLE_ISSUER);
  });

  test('dev tokens go through every claim check (aud, email_verified, hd, exp)', async () => {
    const v = verifier({ devMode: true, devIssuerKeys: dev.jwksSource(), allowedHostedDomains: ['example.com'] }, clock);
    await refused(v, dev.issue({ email: 'dev@example.com', audience: OTHER_CLIENT_ID }), /aud is not a configured client id/);
    await refused(v, dev.issue({ email: 'dev@example.com', audience: CLIENT_ID, emailVerified: false }), /email is not verified/);
    await refused(v, dev.issue({ email: 'dev@other.org', audience: CLIENT_ID }), /hd\) is not allowed/, PermissionDeniedError);
    const later = verifier({ devMode: true, devIssuerKeys: dev.jwksSource() }, new ManualClock(NOW + 62_000));
    await refused(later, dev.issue({ email: 'dev@example.com', audience: CLIENT_ID, lifetimeSeconds: 1 }), /^ID token has expired$/);
  });

  test('keys are bound to their issuer: the dev key cannot vouch for a Google iss, nor Google\'s for the dev iss', async () => {
    const devKeys = dev.jwksSource();
    const v = verifier({ devMode: true, devIssuerKeys: devKeys }, clock);
    const forgedGoogle = rs256(claims(), header({ kid: dev.kid }), createPrivateKey(dev.privateKeyPem()));
    await refused(v, forgedGoogle, /unknown key/);
    const googleSignedDev = rs256(claims({ iss: DEV_ISSUER }), header({ kid: KID }));
    await refused(v, googleSignedDev, /unknown key/);
    const devSignedDevWithGoogleKid = rs256(claims({ iss: DEV_ISSUER }), header({ kid: dev.kid }), google.privateKey);
    await refused(v, devSignedDevWithGoogleKid, /signature is invalid/);
  });

  test('a dev token signed by another dev key (another machine\'s) is refused', async () => {
    const otherDev = new DevIdTokenIssuer({ clock });
    const v = verifier({ devMode: true, devIssuerKeys: dev.jwksSource() }, clock);
    await refused(v, otherDev.issue({ email: 'dev@example.com', audience: CLIENT_ID }), /unknown key/);
  });

  test('the dev key survives a PEM round trip; a DevJwksSource can be built from the public PEM', async () => {
    const restored = new DevIdTokenIssuer({ clock, privateKeyPem: dev.privateKeyPem() });
    assert.equal(restored.generated, false);
    assert.equal(restored.kid, dev.kid);
    const v = verifier({ devMode: true, devIssuerKeys: new DevJwksSource(dev.publicKeyPem()) }, clock);
    await v.verify(restored.issue({ email: 'dev@example.com', audience: CLIENT_ID }));
    assert.equal(createPublicKey(dev.publicKeyPem()).asymmetricKeyDetails?.modulusLength, 2048);
  });
});
