import { randomBytes, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { jsonOf, parseSessionJws, signCompactJws, KEY_ID_RE } from '@gatehouse/session';
import type { ReasonCode } from './model.js';

/** The largest impersonation token accepted (they are ~600 bytes). */
export const MAX_TOKEN_BYTES = 4096;

/** Audience of impersonation tokens: product backends; never a session's audience. */
export const TOKEN_AUDIENCE = 'gatehouse-product-backends';

/** What an impersonation token asserts, in domain terms. */
export interface ImpersonationClaims {
  issuer: string;
  grantId: string;
  targetUserId: string;
  customerDomain: string;
  actor: { accountId: string; email: string; displayName: string };
  reason: ReasonCode;
  issuedAt: Date;
  expiresAt: Date;
  tokenId: string;
  keyId: string;
}

/** Why a token is not valid (TokenInvalidReason in lower case). */
export type TokenInvalidReason = 'malformed' | 'bad_signature' | 'unknown_key' | 'expired' | 'not_yet_valid' | 'revoked' | 'ended' | 'forbidden_operation';

/** The keys that sign and verify impersonation tokens (the service's own key ring). */
export interface TokenKeys {
  signingKey(): Promise<{ keyId: string; privateKey: KeyObject }>;
  key(keyId: string): Promise<KeyObject | undefined>;
  validity(keyId: string): { notBefore?: Date; notAfter?: Date } | undefined;
}

const REASONS: readonly ReasonCode[] = ['customer_support_case', 'bug_investigation', 'incident_response'];

/**
 * Signs an impersonation token: a compact JWS (EdDSA, the narrow profile session tokens use) whose
 * `sub` is the target and whose RFC 8693 §4.1 `act` claim names the employee acting. Its `aud`
 * differs from a session's, and its key ring differs from identity's, so no service can take it
 * for a session.
 */
export function signImpersonationToken(c: Omit<ImpersonationClaims, 'keyId' | 'tokenId'>, key: { keyId: string; privateKey: KeyObject }): { token: string; tokenId: string } {
  const tokenId = `itk_${randomBytes(12).toString('base64url')}`;
  const payload = {
    iss: c.issuer,
    aud: TOKEN_AUDIENCE,
    sub: c.targetUserId,
    act: { sub: c.actor.accountId, email: c.actor.email, name: c.actor.displayName },
    gid: c.grantId,
    dom: c.customerDomain,
    rsn: c.reason,
    iat: Math.floor(c.issuedAt.getTime() / 1000),
    exp: Math.floor(c.expiresAt.getTime() / 1000),
    jti: tokenId,
  };
  return { token: signCompactJws({ alg: 'EdDSA', typ: 'JWT', kid: key.keyId }, payload, key.privateKey), tokenId };
}

/** The outcome of checking a token's form, signature and times (not the grant: the domain does that). */
export type TokenCheck = { ok: true; claims: ImpersonationClaims } | { ok: false; reason: TokenInvalidReason };

function strField(o: Record<string, unknown>, k: string, max: number): string | undefined {
  const v = Object.hasOwn(o, k) ? o[k] : undefined;
  return typeof v === 'string' && v.length > 0 && v.length <= max ? v : undefined;
}

function numField(o: Record<string, unknown>, k: string): number | undefined {
  const v = Object.hasOwn(o, k) ? o[k] : undefined;
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 253_402_300_800 ? v : undefined;
}

/**
 * Tokens whose signature and claims already verified, by exact token text: a backend verifies the
 * same token on every request it serves under it, and the Ed25519 check is most of a
 * verification's cost. Only correctly signed tokens enter (garbage cannot fill it); times and the
 * grant's state are still checked on every call, so expiry and revocation stay immediate. Bounded:
 * the oldest entry goes first.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, ImpersonationClaims>();

  constructor(private readonly maxEntries = 10_000) {}

  get(token: string): ImpersonationClaims | undefined {
    return this.entries.get(token);
  }

  set(token: string, claims: ImpersonationClaims): void {
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(token, claims);
  }
}

/**
 * Verifies a token's header, key, Ed25519 signature, claims and times against `now` (with
 * `leewayMs` for clock skew on `iat`). Never throws for a bad token: the reason is the answer.
 * With a cache, a token seen before skips the signature check (never the time checks).
 */
export async function checkImpersonationToken(token: string, keys: TokenKeys, issuer: string, now: Date, leewayMs: number, cache?: VerifiedTokenCache): Promise<TokenCheck> {
  let claims = typeof token === 'string' ? cache?.get(token) : undefined;
  // A key no longer published (rotated out) sends even a cached token back through the full check.
  if (claims && !keys.validity(claims.keyId)) claims = undefined;
  if (!claims) {
    const signed = await checkSignedClaims(token, keys, issuer);
    if (!signed.ok) return signed;
    claims = signed.claims;
    cache?.set(token, claims);
  }
  const t = now.getTime();
  const iat = Math.floor(claims.issuedAt.getTime() / 1000);
  const validity = keys.validity(claims.keyId);
  if (validity && ((validity.notBefore && iat * 1000 < validity.notBefore.getTime() - leewayMs) || (validity.notAfter && iat * 1000 > validity.notAfter.getTime()))) {
    return { ok: false, reason: 'bad_signature' };
  }
  if (claims.issuedAt.getTime() > t + leewayMs) return { ok: false, reason: 'not_yet_valid' };
  if (claims.expiresAt.getTime() <= t) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

/** The time-independent part: form, key, signature, issuer, audience and claim shapes. */
async function checkSignedClaims(token: string, keys: TokenKeys, issuer: string): Promise<TokenCheck> {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_BYTES) return { ok: false, reason: 'malformed' };
  let parsed;
  try {
    parsed = parseSessionJws(token, MAX_TOKEN_BYTES);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const kid = parsed.header.kid;
  if (!KEY_ID_RE.test(kid)) return { ok: false, reason: 'malformed' };
  const publicKey = await keys.key(kid);
  if (!publicKey) return { ok: false, reason: 'unknown_key' };
  if (!cryptoVerify(null, parsed.signingInput, publicKey, parsed.signature)) return { ok: false, reason: 'bad_signature' };
  let payload: unknown;
  try {
    payload = jsonOf(parsed.payload, 'payload');
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return { ok: false, reason: 'malformed' };
  const p = payload as Record<string, unknown>;
  const act = Object.hasOwn(p, 'act') ? p['act'] : undefined;
  if (typeof act !== 'object' || act === null || Array.isArray(act)) return { ok: false, reason: 'malformed' };
  const a = act as Record<string, unknown>;
  const iss = strField(p, 'iss', 256);
  const aud = strField(p, 'aud', 256);
  const sub = strField(p, 'sub', 256);
  const gid = strField(p, 'gid', 64);
  const dom = strField(p, 'dom', 253);
  const rsn = strField(p, 'rsn', 64);
  const jti = strField(p, 'jti', 64);
  const actSub = strField(a, 'sub', 256);
  const iat = numField(p, 'iat');
  const exp = numField(p, 'exp');
  if (!iss || !aud || !sub || !gid || !dom || !rsn || !jti || !actSub || iat === undefined || exp === undefined) return { ok: false, reason: 'malformed' };
  if (iss !== issuer || aud !== TOKEN_AUDIENCE || !(REASONS as readonly string[]).includes(rsn) || exp <= iat) return { ok: false, reason: 'malformed' };
  const email = typeof a['email'] === 'string' ? (a['email'] as string).slice(0, 320) : '';
  const name = typeof a['name'] === 'string' ? (a['name'] as string).slice(0, 200) : '';
  return {
    ok: true,
    claims: {
      issuer: iss,
      grantId: gid,
      targetUserId: sub,
      customerDomain: dom,
      actor: { accountId: actSub, email, displayName: name },
      reason: rsn as ReasonCode,
      issuedAt: new Date(iat * 1000),
      expiresAt: new Date(exp * 1000),
      tokenId: jti,
      keyId: kid,
    },
  };
}
