import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createCa, issueCertificate } from './index.js';
import { x509 } from './x509.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** The DER bytes of the serialNumber INTEGER (Node only shows its hex value, not its sign). */
function rawSerial(der: Buffer): Buffer {
  let at = 0;
  const header = (): { tag: number; length: number } => {
    const tag = der[at++] ?? -1;
    let length = der[at++] ?? 0;
    if (length & 0x80) {
      const bytes = length & 0x7f;
      length = 0;
      for (let i = 0; i < bytes; i++) length = (length << 8) | (der[at++] ?? 0);
    }
    return { tag, length };
  };
  assert.equal(header().tag, 0x30); // Certificate
  assert.equal(header().tag, 0x30); // TBSCertificate
  const version = header();
  assert.equal(version.tag, 0xa0);
  at += version.length;
  const serial = header();
  assert.equal(serial.tag, 0x02);
  return der.subarray(at, at + serial.length);
}

test('createCa makes a self-signed P-256 root that may sign leaves only', async () => {
  const ca = await createCa();
  const cert = new X509Certificate(ca.certPem);
  assert.equal(cert.ca, true);
  assert.equal(cert.subject, 'O=Gatehouse\nCN=Gatehouse Dev CA');
  assert.equal(cert.issuer, cert.subject);
  assert.equal(cert.checkIssued(cert), true);
  assert.equal(cert.verify(cert.publicKey), true);
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');

  const parsed = new x509.X509Certificate(ca.certPem);
  // x509 types this with DOM WebCrypto types, which this Node-only workspace does not load.
  const algorithm = parsed.signatureAlgorithm as unknown as { name: string; hash: { name: string } };
  assert.deepEqual({ name: algorithm.name, hash: algorithm.hash.name }, { name: 'ECDSA', hash: 'SHA-256' });
  const constraints = parsed.getExtension(x509.BasicConstraintsExtension);
  assert.equal(constraints?.ca, true);
  assert.equal(constraints?.pathLength, 0);
  assert.equal(constraints?.critical, true);
  const usages = parsed.getExtension(x509.KeyUsagesExtension);
  assert.equal(usages?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);

  assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  const key = createPrivateKey(ca.keyPem);
  assert.equal(key.asymmetricKeyType, 'ec');
  assert.equal(cert.checkPrivateKey(key), true);
});

test('createCa honours commonName and validityDays', async () => {
  const now = new Date('2030-01-01T00:00:00Z');
  const ca = await createCa({ commonName: 'Gatehouse Test CA', validityDays: 30, now });
  const cert = new X509Certificate(ca.certPem);
  assert.equal(cert.subject, 'O=Gatehouse\nCN=Gatehouse Test CA');
  assert.equal(new Date(cert.validTo).toISOString(), '2030-01-31T00:00:00.000Z');
  await assert.rejects(createCa({ validityDays: 0 }), /validityDays/);
  await assert.rejects(createCa({ commonName: '' }), /commonName/);
});

test('serial numbers are positive, 128-bit and random', async () => {
  const serials = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const ca = await createCa();
    const raw = rawSerial(new X509Certificate(ca.certPem).raw);
    assert.equal((raw[0] ?? 0) & 0x80, 0, 'DER INTEGER must be positive');
    const magnitude = raw[0] === 0 ? raw.subarray(1) : raw;
    assert.equal(magnitude.length, 16);
    serials.add(magnitude.toString('hex'));
  }
  assert.equal(serials.size, 8);
});

test('a service certificate chains to the CA and carries its identity, host names and both EKUs', async () => {
  const ca = await createCa();
  const caCert = new X509Certificate(ca.certPem);
  const leaf = await issueCertificate(ca, { name: 'audit', kind: 'service' });
  const cert = new X509Certificate(leaf.certPem);
  assert.equal(cert.checkIssued(caCert), true);
  assert.equal(cert.verify(caCert.publicKey), true);
  assert.equal(cert.ca, false);
  assert.equal(cert.subject, 'O=Gatehouse\nOU=service\nCN=audit');
  assert.equal(cert.issuer, caCert.subject);
  assert.equal(cert.subjectAltName, 'URI:urn:gatehouse:service:audit, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  assert.deepEqual(cert.keyUsage, [SERVER_AUTH, CLIENT_AUTH]);
  assert.equal(cert.checkPrivateKey(createPrivateKey(leaf.keyPem)), true);
  const parsed = new x509.X509Certificate(leaf.certPem);
  assert.equal(parsed.getExtension(x509.KeyUsagesExtension)?.usages, x509.KeyUsageFlags.digitalSignature);
  assert.equal(parsed.getExtension(x509.BasicConstraintsExtension)?.ca, false);
  // The leaf's serial is random too, and not the CA's.
  assert.notEqual(cert.serialNumber, caCert.serialNumber);
});

test('backends and operators get clientAuth only, and only the names they ask for', async () => {
  const ca = await createCa();
  for (const kind of ['backend', 'operator'] as const) {
    const leaf = await issueCertificate(ca, { name: 'shop', kind });
    const cert = new X509Certificate(leaf.certPem);
    assert.deepEqual(cert.keyUsage, [CLIENT_AUTH]);
    assert.equal(cert.subjectAltName, `URI:urn:gatehouse:${kind}:shop`);
    assert.equal(cert.subject, `O=Gatehouse\nOU=${kind}\nCN=shop`);
  }
  const custom = await issueCertificate(ca, {
    name: 'identity',
    kind: 'service',
    dnsNames: ['identity.gatehouse.internal'],
    ipAddresses: ['10.0.0.7'],
  });
  assert.equal(
    new X509Certificate(custom.certPem).subjectAltName,
    'URI:urn:gatehouse:service:identity, DNS:identity.gatehouse.internal, IP Address:10.0.0.7',
  );
});

test('issueCertificate refuses bad names, kinds, host names and addresses', async () => {
  const ca = await createCa();
  const bad = ['', 'Audit', '1audit', '-audit', 'au_dit', 'au.dit', '../etc/passwd', 'audit\n', 'a'.repeat(64), 'urn:gatehouse:service:x', 'aüdit'];
  for (const name of bad) {
    await assert.rejects(issueCertificate(ca, { name, kind: 'service' }), /invalid Gatehouse caller name/, JSON.stringify(name));
  }
  for (const name of ['a', 'a'.repeat(63), 'shop-backend-2']) {
    await issueCertificate(ca, { name, kind: 'backend' });
  }
  await assert.rejects(issueCertificate(ca, { name: 'x', kind: 'admin' as 'service' }), /invalid Gatehouse caller kind/);
  await assert.rejects(issueCertificate(ca, { name: 'x', kind: 'service', dnsNames: ['bad host'] }), /invalid DNS name/);
  await assert.rejects(issueCertificate(ca, { name: 'x', kind: 'service', ipAddresses: ['300.1.1.1'] }), /invalid IP address/);
});

test('issueCertificate checks the CA pair and never outlives the CA', async () => {
  const ca = await createCa({ validityDays: 10 });
  const other = await createCa();
  const leaf = await issueCertificate(ca, { name: 'audit', kind: 'service' });
  assert.equal(new X509Certificate(leaf.certPem).validTo, new X509Certificate(ca.certPem).validTo);
  await assert.rejects(issueCertificate({ certPem: ca.certPem, keyPem: other.keyPem }, { name: 'x', kind: 'service' }), /does not belong/);
  await assert.rejects(issueCertificate(leaf, { name: 'x', kind: 'service' }), /not a CA certificate/);
  assert.equal(new X509Certificate(leaf.certPem).checkIssued(new X509Certificate(other.certPem)), false);
});
