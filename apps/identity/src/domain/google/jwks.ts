import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { decodeBase64UrlStrict } from './compact-jws.js';
import { rsaThumbprint } from '@gatehouse/dev-issuer';

export { rsaThumbprint };

/**
 * Port: where the verifier gets an issuer's public signing keys. The verifier asks once per
 * token; an implementation decides whether an unknown kid justifies a refresh (the HTTP adapter
 * refreshes at most once per interval, so junk kids cannot make us hammer Google). Return
 * undefined for a kid that is still unknown; throw (ideally an UnavailableError) when the keys
 * cannot be had at all, so the caller sees UNAVAILABLE rather than a bogus verdict.
 */
export interface JwksSource {
  key(kid: string): Promise<KeyObject | undefined>;
}

/** A fixed set of keys by kid: tests, and issuers whose keys are known in advance. */
export class StaticJwksSource implements JwksSource {
  private readonly keys: ReadonlyMap<string, KeyObject>;
  constructor(keys: ReadonlyMap<string, KeyObject> | Record<string, KeyObject>) {
    this.keys = keys instanceof Map ? new Map(keys) : new Map(Object.entries(keys));
  }
  async key(kid: string): Promise<KeyObject | undefined> {
    return this.keys.get(kid);
  }
}

/** What came out of a JWKS document: usable keys, and how many entries were skipped. */
export interface ParsedJwks {
  readonly keys: Map<string, KeyObject>;
  readonly skipped: number;
}

/**
 * Reads a JWKS document (RFC 7517 §5) into RSA signature-verification keys by kid. Entries that
 * are not RSA, are meant for encryption (`use` other than `sig`), name another alg than RS256,
 * have no kid or do not import are skipped; a kid that appears twice is dropped entirely, since
 * we cannot tell which key it means. Key size is NOT judged here: the verifier refuses weak keys
 * with a clear message. Throws only if the document itself is not a JWKS.
 */
export function parseJwks(document: unknown): ParsedJwks {
  if (typeof document !== 'object' || document === null || !Object.hasOwn(document, 'keys')) {
    throw new Error('JWKS document is not an object with a "keys" member');
  }
  const entries = (document as { keys: unknown }).keys;
  if (!Array.isArray(entries)) throw new Error('JWKS "keys" member is not an array');
  const keys = new Map<string, KeyObject>();
  const duplicated = new Set<string>();
  let skipped = 0;
  for (const entry of entries as unknown[]) {
    const imported = importRsaSigningJwk(entry);
    if (!imported) {
      skipped++;
      continue;
    }
    const [kid, key] = imported;
    if (keys.has(kid) || duplicated.has(kid)) {
      keys.delete(kid);
      duplicated.add(kid);
      skipped++;
      continue;
    }
    keys.set(kid, key);
  }
  return { keys, skipped: skipped + duplicated.size };
}

function importRsaSigningJwk(entry: unknown): [string, KeyObject] | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const get = (name: string): unknown => (Object.hasOwn(entry, name) ? (entry as Record<string, unknown>)[name] : undefined);
  const kty = get('kty');
  const kid = get('kid');
  const use = get('use');
  const alg = get('alg');
  const n = get('n');
  const e = get('e');
  if (kty !== 'RSA') return undefined;
  if (use !== undefined && use !== 'sig') return undefined;
  if (alg !== undefined && alg !== 'RS256') return undefined;
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH) return undefined;
  // Node's JWK import is lenient (junk n gives a 0-bit key), so check the encoding ourselves.
  if (typeof n !== 'string' || typeof e !== 'string' || !decodeBase64UrlStrict(n) || !decodeBase64UrlStrict(e)) return undefined;
  try {
    // Only the public members are handed over, so a JWK that carries a private part (d, p, q...)
    // still imports as a public key.
    const key = createPublicKey({ key: { kty: 'RSA', n, e }, format: 'jwk' });
    if (!key.asymmetricKeyDetails?.modulusLength || !key.asymmetricKeyDetails.publicExponent) return undefined;
    return [kid, key];
  } catch {
    return undefined;
  }
}

/** Longest kid we look up; Google's are 40 hex characters. */
export const MAX_KID_LENGTH = 256;

