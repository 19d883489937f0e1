/**
 * Reading the caller's identity from a peer certificate. This is the only way a Gatehouse
 * service learns who called it over mTLS, so the parsing is deliberately strict: one exact
 * `URI:urn:gatehouse:<kind>:<name>` SAN entry, nothing else (never the CN).
 */
import { X509Certificate } from 'node:crypto';
import { IDENTITY_URI_PREFIX, parseIdentityUri, type CallerKind } from './names.js';

/** A caller as vouched for by the Gatehouse CA. */
export interface CallerIdentity {
  kind: CallerKind;
  name: string;
  /** The SAN URI it was read from: `urn:gatehouse:<kind>:<name>`. */
  uri: string;
  /** SHA-256 fingerprint of the certificate (colon-separated hex, as Node prints it): for audit. */
  fingerprint256: string;
  notAfter: Date;
}

/** What we accept as a certificate: a TLS peer certificate (has `raw` DER), DER bytes, or PEM text. */
export type CertificateInput = { raw: Buffer } | Buffer | string;

/** One `TYPE:value` entry of Node's `subjectAltName` string. */
interface AltName {
  type: string;
  value: string;
}

/**
 * Splits Node's `subjectAltName` string into entries. Node (since the CVE-2021-44532 fix) writes
 * `TYPE:value` joined by `, ` and JSON-quotes any value containing a comma, quote, backslash or
 * control character, so a comma outside quotes always separates entries. Anything that does not
 * follow that grammar returns undefined, and the caller refuses the certificate.
 */
export function parseSubjectAltName(text: string): AltName[] | undefined {
  const entries: AltName[] = [];
  const entry = /([A-Za-z][A-Za-z ]*):("(?:[^"\\]|\\.)*"|[^",]*)(, |$)/y;
  let at = 0;
  while (at < text.length) {
    entry.lastIndex = at;
    const match = entry.exec(text);
    if (!match) return undefined;
    const [whole, type, raw, separator] = match;
    if (type === undefined || raw === undefined || whole.length === 0) return undefined;
    let value: string;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        return undefined;
      }
    } else {
      value = raw;
    }
    entries.push({ type, value });
    at += whole.length;
    // `$` ends the list; `, ` must be followed by another entry.
    if (separator === '' ? at < text.length : at >= text.length) return undefined;
  }
  return entries;
}

function toX509(cert: CertificateInput): X509Certificate {
  let input: Buffer | string;
  if (typeof cert === 'string' || Buffer.isBuffer(cert)) input = cert;
  else if (cert !== null && typeof cert === 'object' && Buffer.isBuffer(cert.raw)) input = cert.raw;
  else throw new TypeError('expected a certificate: PEM text, DER bytes or an object with a `raw` DER buffer');
  try {
    return new X509Certificate(input);
  } catch (err) {
    throw new TypeError('could not parse the certificate (expected PEM text or DER bytes)', { cause: err });
  }
}

/**
 * The Gatehouse identity a certificate carries, or undefined if it carries none we accept.
 *
 * It does NOT check who issued the certificate: call it only on certificates the TLS layer has
 * already verified against the Gatehouse CA (see `peerIdentity`). It refuses (undefined): CA
 * certificates, certificates without an identity URI, with a malformed `urn:gatehouse:` URI, or
 * with more than one. Throws only when the input is not a certificate at all.
 */
export function callerIdentityFromCertificate(cert: CertificateInput): CallerIdentity | undefined {
  const x = toX509(cert);
  if (x.ca) return undefined;
  const san = x.subjectAltName;
  if (san === undefined || san === '') return undefined;
  const entries = parseSubjectAltName(san);
  if (!entries) return undefined;

  let found: { kind: CallerKind; name: string; uri: string } | undefined;
  for (const { type, value } of entries) {
    // Look at every entry, whatever its type: a DNS name or e-mail that smuggles the prefix is
    // not an identity, but a malformed or second Gatehouse URI means something is wrong.
    if (!value.toLowerCase().includes(IDENTITY_URI_PREFIX)) continue;
    if (type !== 'URI') continue;
    const parsed = parseIdentityUri(value);
    if (!parsed) return undefined;
    if (found) return undefined;
    found = { ...parsed, uri: value };
  }
  if (!found) return undefined;

  const notAfter = new Date(x.validTo);
  if (Number.isNaN(notAfter.getTime())) return undefined;
  return { ...found, fingerprint256: x.fingerprint256, notAfter };
}

/** The part of a grpc-js server call we need; structural so tests and interceptors can pass their own. */
export interface AuthContextSource {
  getAuthContext(): { transportSecurityType?: string; sslPeerCertificate?: { raw?: Buffer } };
}

/**
 * The verified caller of a grpc-js call, or undefined when it must be answered UNAUTHENTICATED.
 *
 * grpc-js fills `sslPeerCertificate` only when the TLS socket is `authorized`, i.e. the peer sent
 * a certificate that chains to the CA our server credentials trust and is within its validity.
 * No certificate, another CA's certificate or an expired one all come back as undefined here.
 */
export function peerIdentity(call: AuthContextSource): CallerIdentity | undefined {
  const context = call.getAuthContext();
  if (context.transportSecurityType !== 'ssl') return undefined;
  const raw = context.sslPeerCertificate?.raw;
  if (!Buffer.isBuffer(raw) || raw.length === 0) return undefined;
  return callerIdentityFromCertificate(raw);
}
