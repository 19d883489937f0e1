/**
 * The Gatehouse CA and the leaf certificates it issues to services, product backends and
 * operators (DESIGN.md §3, "Services"). ECDSA P-256 / SHA-256 throughout; the caller identity is
 * the SAN URI `urn:gatehouse:<kind>:<name>`, and the EKUs decide who may act as a TLS server.
 */
import { KeyObject, X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import type * as X509 from '@peculiar/x509';
import { x509 } from './x509.js';
import { assertCallerKind, assertCallerName, identityUri, type CallerKind } from './names.js';

/** A certificate and its private key, both PEM (the key as unencrypted PKCS#8). */
export interface CertificateAndKey {
  certPem: string;
  keyPem: string;
}

/** Options for `createCa`. */
export interface CreateCaOptions {
  /** Defaults to `Gatehouse Dev CA`. */
  commonName?: string;
  /** Defaults to 3650 days. */
  validityDays?: number;
  /** Issue "as of" this time (tests); defaults to now. */
  now?: Date;
}

/** Options for `issueCertificate`. */
export interface IssueCertificateOptions {
  /** The caller name, `^[a-z][a-z0-9-]{0,62}$`; becomes the CN and the identity URI. */
  name: string;
  kind: CallerKind;
  /** Services default to `localhost`; other kinds to none. */
  dnsNames?: string[];
  /** Services default to `127.0.0.1` and `::1`; other kinds to none. */
  ipAddresses?: string[];
  /** Defaults to 90 days, and never runs past the CA's own expiry. */
  validityDays?: number;
  /** Issue "as of" this time (tests); defaults to now. */
  now?: Date;
}

const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Backdate notBefore a little so a peer whose clock runs slightly behind still accepts the cert. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;
const DEFAULT_CA_DAYS = 3650;
const DEFAULT_LEAF_DAYS = 90;
const ORGANIZATION = 'Gatehouse';
const DNS_NAME = /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** A random positive 128-bit serial (RFC 5280 §4.1.2.2): unpredictable, so serials cannot be guessed or collide. */
function randomSerialHex(): string {
  const bytes = randomBytes(16);
  // A non-zero first byte keeps all 16 bytes significant; x509 prepends 0x00 when the top bit is
  // set, so the DER INTEGER is always positive.
  if (bytes[0] === 0) bytes[0] = 1;
  return bytes.toString('hex');
}

function validityWindow(now: Date | undefined, validityDays: number | undefined, fallbackDays: number): { notBefore: Date; notAfter: Date } {
  const days = validityDays ?? fallbackDays;
  if (!Number.isInteger(days) || days < 1 || days > 36500) {
    throw new Error(`validityDays must be a whole number of days between 1 and 36500, got ${String(validityDays)}`);
  }
  const start = (now ?? new Date()).getTime();
  if (!Number.isFinite(start)) throw new Error('now must be a valid Date');
  return { notBefore: new Date(start - CLOCK_SKEW_MS), notAfter: new Date(start + days * DAY_MS) };
}

async function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
}

function privateKeyPem(key: webcrypto.CryptoKey): string {
  return KeyObject.from(key)
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

function certificatePem(cert: X509.X509Certificate): string {
  const pem = cert.toString('pem');
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

/**
 * Creates a self-signed Gatehouse root CA. pathLen 0: it signs leaf certificates only, so a
 * leaf can never be used to mint further certificates that chain to it.
 */
export async function createCa(options: CreateCaOptions = {}): Promise<CertificateAndKey> {
  const commonName = options.commonName ?? 'Gatehouse Dev CA';
  if (commonName.length === 0 || commonName.length > 64 || /[\u0000-\u001f\u007f]/.test(commonName)) {
    throw new Error('commonName must be 1 to 64 characters without control characters');
  }
  const { notBefore, notAfter } = validityWindow(options.now, options.validityDays, DEFAULT_CA_DAYS);
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    // DER order is most significant first; written as a string this is `CN=...,O=Gatehouse`.
    name: [{ O: [ORGANIZATION] }, { CN: [commonName] }],
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: certificatePem(cert), keyPem: privateKeyPem(keys.privateKey) };
}

/** Loads and cross-checks the CA pair, so a mismatched or non-CA pair fails here and not in a handshake. */
async function loadCa(ca: CertificateAndKey): Promise<{ cert: X509.X509Certificate; notAfter: Date; signingKey: webcrypto.CryptoKey }> {
  let nodeCert: X509Certificate;
  let keyObject: KeyObject;
  try {
    nodeCert = new X509Certificate(ca.certPem);
    keyObject = createPrivateKey(ca.keyPem);
  } catch (err) {
    throw new Error('the CA certificate or key could not be parsed (expected PEM)', { cause: err });
  }
  if (!nodeCert.ca) throw new Error('the CA certificate is not a CA certificate (basicConstraints CA:false)');
  if (keyObject.asymmetricKeyType !== 'ec' || keyObject.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('the CA key must be an ECDSA P-256 key');
  }
  if (!nodeCert.checkPrivateKey(keyObject)) throw new Error('the CA key does not belong to the CA certificate');
  const der = keyObject.export({ type: 'pkcs8', format: 'der' });
  const signingKey = await webcrypto.subtle.importKey('pkcs8', der, EC_KEY, false, ['sign']);
  return { cert: new x509.X509Certificate(ca.certPem), notAfter: new Date(nodeCert.validTo), signingKey };
}

function subjectAltNames(options: IssueCertificateOptions): X509.JsonGeneralNames {
  const isService = options.kind === 'service';
  const dnsNames = options.dnsNames ?? (isService ? ['localhost'] : []);
  const ipAddresses = options.ipAddresses ?? (isService ? ['127.0.0.1', '::1'] : []);
  for (const dns of dnsNames) {
    if (typeof dns !== 'string' || dns.length > 253 || !DNS_NAME.test(dns)) throw new Error(`invalid DNS name ${JSON.stringify(dns)}`);
  }
  for (const ip of ipAddresses) {
    if (typeof ip !== 'string' || isIP(ip) === 0) throw new Error(`invalid IP address ${JSON.stringify(ip)}`);
  }
  return [
    { type: 'url', value: identityUri(options.kind, options.name) },
    ...[...new Set(dnsNames.map((d) => d.toLowerCase()))].map((value) => ({ type: 'dns' as const, value })),
    ...[...new Set(ipAddresses)].map((value) => ({ type: 'ip' as const, value })),
  ];
}

/**
 * Issues a leaf certificate for one caller. Services get serverAuth+clientAuth because they both
 * serve and call each other; backends and operators get clientAuth only, so TLS clients refuse
 * them as servers and they cannot impersonate a Gatehouse service.
 */
export async function issueCertificate(ca: CertificateAndKey, options: IssueCertificateOptions): Promise<CertificateAndKey> {
  assertCallerName(options.name);
  assertCallerKind(options.kind);
  const sans = subjectAltNames(options);
  const issuer = await loadCa(ca);
  const window = validityWindow(options.now, options.validityDays, DEFAULT_LEAF_DAYS);
  const notAfter = window.notAfter > issuer.notAfter ? issuer.notAfter : window.notAfter;
  if (notAfter <= window.notBefore) throw new Error('the CA has expired; create a new CA');
  const usages =
    options.kind === 'service'
      ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]
      : [x509.ExtendedKeyUsage.clientAuth];
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    // Written as a string: `CN=<name>,OU=<kind>,O=Gatehouse`.
    subject: [{ O: [ORGANIZATION] }, { OU: [options.kind] }, { CN: [options.name] }],
    issuer: issuer.cert.subjectName,
    notBefore: window.notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: issuer.signingKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(usages),
      new x509.SubjectAlternativeNameExtension(sans),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.cert.publicKey),
    ],
  });
  return { certPem: certificatePem(cert), keyPem: privateKeyPem(keys.privateKey) };
}
