/**
 * grpc-js credentials for Gatehouse mTLS.
 *
 * The server asks for a client certificate but does not reject the handshake without a valid
 * one: a caller with no certificate, another CA's or an expired one still connects, and the
 * service kit answers UNAUTHENTICATED (via `peerIdentity`) with a status the caller can read,
 * instead of an opaque TLS failure that looks like an outage.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { callerIdentityFromCertificate } from './identity.js';
import { assertCallerName } from './names.js';

/** PEM material for a server: the CA its callers must chain to, and its own certificate and key. */
export interface ServerTlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** PEM material for a client: the CA the server must chain to, and optionally its own pair. */
export interface ClientTlsMaterial {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /**
   * When set, the server must also present the identity `urn:gatehouse:service:<name>`, so a
   * call meant for one Gatehouse service cannot be answered by another one (they share a CA
   * and, in dev, the same host names).
   */
  expectedServerName?: string;
}

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function parseCertificates(pem: Buffer, what: string): X509Certificate[] {
  const blocks = pem.toString('utf8').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new Error(`${what} contains no PEM certificate`);
  try {
    return blocks.map((block) => new X509Certificate(block));
  } catch (err) {
    throw new Error(`${what} contains a certificate that cannot be parsed`, { cause: err });
  }
}

/** Fails at startup, with a readable message, on material that could only fail later in a handshake. */
function checkPair(material: { ca: Buffer; cert: Buffer; key: Buffer }, needServerAuth: boolean): void {
  const roots = parseCertificates(material.ca, 'the CA bundle');
  const [leaf] = parseCertificates(material.cert, 'the certificate');
  if (!leaf) throw new Error('the certificate contains no PEM certificate');
  if (!roots.some((root) => leaf.checkIssued(root) && leaf.verify(root.publicKey))) {
    throw new Error(`the certificate (${leaf.subject.replace(/\n/g, ', ')}) was not issued by the CA it is configured with`);
  }
  let keyMatches: boolean;
  try {
    keyMatches = leaf.checkPrivateKey(createPrivateKey(material.key));
  } catch (err) {
    throw new Error('the private key cannot be parsed (expected PEM)', { cause: err });
  }
  if (!keyMatches) throw new Error('the private key does not belong to the certificate');
  if (needServerAuth && !(leaf.keyUsage ?? []).includes(SERVER_AUTH)) {
    throw new Error('the certificate may not act as a TLS server (no serverAuth extended key usage): issue it as a service');
  }
}

/**
 * Server credentials that request a client certificate but let the handshake succeed without a
 * valid one. Node then marks the socket unauthorized, grpc-js reports an empty auth context,
 * and `peerIdentity` returns undefined. grpc-js's own `createSsl(ca, pairs, true)` would abort
 * the handshake instead, which clients see as UNAVAILABLE.
 */
class GatehouseServerCredentials extends grpc.ServerCredentials {
  readonly #material: ServerTlsMaterial;

  constructor(material: ServerTlsMaterial) {
    super(
      { requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
      { ca: material.ca, cert: material.cert, key: material.key },
    );
    this.#material = material;
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    if (other === this) return true;
    if (!(other instanceof GatehouseServerCredentials)) return false;
    const a = this.#material;
    const b = other.#material;
    return a.ca.equals(b.ca) && a.cert.equals(b.cert) && a.key.equals(b.key);
  }
}

/**
 * mTLS server credentials for a Gatehouse service. Callers are identified afterwards, per call,
 * with `peerIdentity(call)`; a call without an identity must be answered UNAUTHENTICATED.
 */
export function createServerCredentials(material: ServerTlsMaterial): grpc.ServerCredentials {
  checkPair(material, true);
  return new GatehouseServerCredentials(material);
}

/**
 * mTLS client credentials: trust only the Gatehouse CA and, when given, present our certificate.
 * Without a certificate the connection still works, but every Gatehouse RPC answers UNAUTHENTICATED.
 */
export function createClientCredentials(material: ClientTlsMaterial): grpc.ChannelCredentials {
  const { ca, cert, key, expectedServerName } = material;
  if ((cert === undefined) !== (key === undefined)) throw new Error('cert and key must be given together');
  if (cert && key) checkPair({ ca, cert, key }, false);
  else parseCertificates(ca, 'the CA bundle');
  if (expectedServerName === undefined) return grpc.credentials.createSsl(ca, key ?? null, cert ?? null);

  assertCallerName(expectedServerName);
  return grpc.credentials.createSsl(ca, key ?? null, cert ?? null, {
    // The server is authenticated by its identity, as in SPIFFE: a certificate from our CA that
    // names `urn:gatehouse:service:<expected>`. That is stronger than a host name (services share
    // hosts and, in dev, names), so the host name is not checked here. grpc-js replaces Node's
    // default check with this callback; `serviceAuthority` gives the matching TLS server name.
    checkServerIdentity(_hostname: string, peer: PeerCertificate): Error | undefined {
      const identity = callerIdentityFromCertificate(peer);
      if (identity?.kind !== 'service' || identity.name !== expectedServerName) {
        return new Error(`the server is not the Gatehouse service "${expectedServerName}" (it presented ${identity?.uri ?? 'no Gatehouse identity'})`);
      }
      return undefined;
    },
  });
}

/**
 * The TLS server name (SNI) a client uses when it pins the server by identity: a name, not an
 * IP address (RFC 6066), that the server ignores. Pass it as `grpc.ssl_target_name_override`.
 */
export function serviceAuthority(expectedServerName: string): string {
  assertCallerName(expectedServerName);
  return `${expectedServerName}.gatehouse.internal`;
}
