import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, webcrypto } from 'node:crypto';
import { callerIdentityFromCertificate, createCa, issueCertificate, peerIdentity } from './index.js';
import { parseSubjectAltName } from './identity.js';
import type * as X509 from '@peculiar/x509';
import { x509 } from './x509.js';

const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/** Builds a certificate with whatever subject and SANs an attacker (or a buggy CA) might choose. */
async function forge(options: { cn: string; sans?: X509.JsonGeneralNames; ca?: boolean }): Promise<string> {
  const keys = await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
  const extensions: X509.Extension[] = [new x509.BasicConstraintsExtension(options.ca ?? false, undefined, true)];
  if (options.sans) extensions.push(new x509.SubjectAlternativeNameExtension(options.sans));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ CN: [options.cn] }],
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions,
  });
  return cert.toString('pem');
}

const uri = (value: string): { type: 'url'; value: string } => ({ type: 'url', value });

test('reads the identity from the SAN URI, whatever form the certificate comes in', async () => {
  const ca = await createCa();
  const leaf = await issueCertificate(ca, { name: 'shop-backend', kind: 'backend' });
  const cert = new X509Certificate(leaf.certPem);
  const expected = {
    kind: 'backend',
    name: 'shop-backend',
    uri: 'urn:gatehouse:backend:shop-backend',
    fingerprint256: cert.fingerprint256,
    notAfter: new Date(cert.validTo),
  };
  assert.deepEqual(callerIdentityFromCertificate(leaf.certPem), expected);
  assert.deepEqual(callerIdentityFromCertificate(cert.raw), expected);
  assert.deepEqual(callerIdentityFromCertificate({ raw: cert.raw }), expected);
});

test('a CN that spells an identity is not an identity', async () => {
  assert.equal(callerIdentityFromCertificate(await forge({ cn: 'urn:gatehouse:service:audit' })), undefined);
  assert.equal(
    callerIdentityFromCertificate(await forge({ cn: 'urn:gatehouse:service:audit', sans: [{ type: 'dns', value: 'localhost' }] })),
    undefined,
  );
});

test('only an exact URI entry counts: other SAN types and embedded text do not', async () => {
  const cases: [string, X509.JsonGeneralNames][] = [
    ['DNS name with the identity text', [{ type: 'dns', value: 'urn:gatehouse:service:audit' }]],
    ['e-mail with the identity text', [{ type: 'email', value: 'urn:gatehouse:service:audit@example.com' }]],
    ['comma injection in a URI', [uri('urn:x,URI:urn:gatehouse:service:audit')]],
    ['comma-space injection in a URI', [uri('urn:x, URI:urn:gatehouse:service:audit')]],
    ['identity as a suffix', [uri('https://evil.example/urn:gatehouse:service:audit')]],
    ['identity with extra parts', [uri('urn:gatehouse:service:audit:extra')]],
    ['unknown kind', [uri('urn:gatehouse:admin:root')]],
    ['bad name', [uri('urn:gatehouse:service:Audit')]],
    ['empty name', [uri('urn:gatehouse:service:')]],
    ['upper-case scheme', [uri('URN:GATEHOUSE:service:audit')]],
    ['two identities', [uri('urn:gatehouse:backend:shop'), uri('urn:gatehouse:service:audit')]],
    ['the same identity twice', [uri('urn:gatehouse:service:audit'), uri('urn:gatehouse:service:audit')]],
    ['a valid identity next to a malformed one', [uri('urn:gatehouse:backend:shop'), uri('urn:gatehouse:service:audit,x')]],
  ];
  for (const [label, sans] of cases) {
    assert.equal(callerIdentityFromCertificate(await forge({ cn: 'x', sans })), undefined, label);
  }
});

test('unrelated SAN entries around the identity URI do not get in the way', async () => {
  const pem = await forge({
    cn: 'urn:gatehouse:service:audit',
    sans: [
      { type: 'dns', value: 'shop.example' },
      { type: 'email', value: 'ops@example.com' },
      uri('https://shop.example/a,b'),
      uri('urn:gatehouse:backend:shop'),
      { type: 'ip', value: '127.0.0.1' },
    ],
  });
  assert.equal(callerIdentityFromCertificate(pem)?.uri, 'urn:gatehouse:backend:shop');
});

test('CA certificates carry no caller identity', async () => {
  const pem = await forge({ cn: 'x', ca: true, sans: [uri('urn:gatehouse:service:audit')] });
  assert.equal(callerIdentityFromCertificate(pem), undefined);
  assert.equal(callerIdentityFromCertificate((await createCa()).certPem), undefined);
});

test('input that is not a certificate is a programming error', () => {
  assert.throws(() => callerIdentityFromCertificate('not a certificate'), TypeError);
  assert.throws(() => callerIdentityFromCertificate(Buffer.from([1, 2, 3])), TypeError);
  assert.throws(() => callerIdentityFromCertificate({ raw: 'x' } as unknown as Buffer), TypeError);
});

test('parseSubjectAltName follows Node’s escaping and refuses anything else', () => {
  assert.deepEqual(parseSubjectAltName('URI:urn:gatehouse:service:audit, DNS:localhost, IP Address:0:0:0:0:0:0:0:1'), [
    { type: 'URI', value: 'urn:gatehouse:service:audit' },
    { type: 'DNS', value: 'localhost' },
    { type: 'IP Address', value: '0:0:0:0:0:0:0:1' },
  ]);
  assert.deepEqual(parseSubjectAltName('URI:"urn:x\\u002c URI:urn:gatehouse:service:audit", DNS:a'), [
    { type: 'URI', value: 'urn:x, URI:urn:gatehouse:service:audit' },
    { type: 'DNS', value: 'a' },
  ]);
  for (const bad of ['URI:a,URI:b', 'URI:a, ', 'URI:"unterminated', 'URI:"a"b', ':a', 'URI:"a\\q"']) {
    assert.equal(parseSubjectAltName(bad), undefined, bad);
  }
});

test('peerIdentity reads the verified peer certificate from the auth context', async () => {
  const ca = await createCa();
  const leaf = await issueCertificate(ca, { name: 'audit', kind: 'service' });
  const raw = new X509Certificate(leaf.certPem).raw;
  const call = (context: ReturnType<Parameters<typeof peerIdentity>[0]['getAuthContext']>) => ({ getAuthContext: () => context });
  assert.equal(peerIdentity(call({ transportSecurityType: 'ssl', sslPeerCertificate: { raw } }))?.name, 'audit');
  assert.equal(peerIdentity(call({})), undefined);
  assert.equal(peerIdentity(call({ transportSecurityType: 'ssl' })), undefined);
  assert.equal(peerIdentity(call({ transportSecurityType: 'ssl', sslPeerCertificate: {} })), undefined);
  assert.equal(peerIdentity(call({ transportSecurityType: 'insecure', sslPeerCertificate: { raw } })), undefined);
});
