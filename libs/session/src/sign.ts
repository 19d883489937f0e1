import type { KeyObject } from 'node:crypto';
import { isDomainError } from '@gatehouse/core';
import { claimsOfPayload, isRole, payloadOf, type SessionClaims } from './claims.js';
import { normalizeIp } from './ip.js';
import { KEY_ID_RE, signCompactJws } from './jws.js';

/** Largest token verifiers accept by default; the signer refuses to make a larger one. */
export const DEFAULT_MAX_TOKEN_BYTES = 8 * 1024;

/** The identity key that signs session tokens, and its published id (`kid`). */
export interface SessionSigningKey {
  /** An Ed25519 private key. */
  privateKey: KeyObject;
  /** SigningKey.key_id of the matching public key, as GetSigningKeys publishes it. */
  keyId: string;
}

/**
 * Signs session claims as a compact JWS: header exactly `{"alg":"EdDSA","typ":"JWT","kid":…}`,
 * payload with the claim names of identity.v1.Session (times as NumericDate seconds). It lives
 * next to the verifier so the two can never disagree on the format: identity issues tokens
 * with it, and tests mint real tokens with it. Claims a verifier would refuse as malformed
 * (empty ids, a `cip` that is no IP, `exp` not after `iat`...) are a programming error here.
 */
export function signSessionToken(claims: SessionClaims, key: SessionSigningKey): string {
  if (key.privateKey.type !== 'private' || key.privateKey.asymmetricKeyType !== 'ed25519') {
    throw new TypeError('signSessionToken: privateKey must be an Ed25519 private key');
  }
  if (!KEY_ID_RE.test(key.keyId)) throw new TypeError('signSessionToken: keyId must be 1-128 characters of A-Z a-z 0-9 . _ : -');
  if (!claims.roles.every(isRole)) throw new TypeError('signSessionToken: roles must be role names');
  const payload = payloadOf(claims);
  payload.cip = normalizeIp(claims.pinnedIp) ?? claims.pinnedIp;
  try {
    claimsOfPayload(payload);
  } catch (err) {
    throw new TypeError(`signSessionToken: ${isDomainError(err) ? err.message : String(err)}`);
  }
  const token = signCompactJws({ alg: 'EdDSA', typ: 'JWT', kid: key.keyId }, payload, key.privateKey);
  if (token.length > DEFAULT_MAX_TOKEN_BYTES) {
    throw new TypeError(`signSessionToken: the token would exceed ${DEFAULT_MAX_TOKEN_BYTES} bytes, which verifiers refuse`);
  }
  return token;
}
