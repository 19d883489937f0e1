import { createHash, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { systemClock, type Clock } from '@gatehouse/core';
import { claimsOfPayload, type SessionClaims } from './claims.js';
import { InvalidSessionError, sessionRejected } from './errors.js';
import { normalizeIp } from './ip.js';
import { jsonOf, parseSessionJws } from './jws.js';
import type { SessionKeySource } from './key-source.js';
import { DEFAULT_MAX_TOKEN_BYTES } from './sign.js';

/** Everything a service needs to check identity's session tokens locally. */
export interface SessionVerifierOptions {
  /** Expected `iss` (GetSigningKeysResponse.issuer). */
  issuer: string;
  /** Expected `aud` (GetSigningKeysResponse.audience). */
  audience: string;
  keys: SessionKeySource;
  clock?: Clock;
  /** Clock skew tolerated for `iat` and `nbf` in the future. Default 30 s, at most 300 s. */
  leewaySeconds?: number;
  /** Longest token accepted. Default 8 KiB, the size of the `authorization` value the kit reads. */
  maxTokenBytes?: number;
  /** Longest `exp - auth_time` accepted: the absolute session lifetime (ASVS 7.3.2). Default 24 h. */
  maxSessionSeconds?: number;
  /** Tokens whose signature is remembered as checked (see {@link SessionVerifier}). Default 10,000; 0 turns it off. */
  verifiedCacheSize?: number;
}

/** A token whose signature was checked: what the checks that depend on time and caller still need. */
interface Verified {
  kid: string;
  /** The key object it was verified with; a hit needs the key source to return this very key. */
  key: KeyObject;
  claims: SessionClaims;
  notBefore: Date | undefined;
}

/** Per-call options of {@link SessionVerifier.verify}. */
export interface VerifyOptions {
  /** The client IP the token was presented from; when given it must equal the pinned `cip`. */
  presentedIp?: string;
  /** A critical action: verifiers that can ask identity (ServiceSessionVerifier) do so. Ignored here. */
  critical?: boolean;
}

/** The part of a verifier handlers depend on, so tests can pass a fake. */
export type SessionTokenVerifier = Pick<SessionVerifier, 'verify'>;

/**
 * Verifies identity's session tokens without a round trip, so every service can authenticate
 * employees on its hot path. Revocation is NOT seen here before the token's `exp` (at most 1 h,
 * the inactivity limit): critical actions add {@link RemoteSessionChecker}.
 *
 * The checks run cheapest and least trusting first: size, encoding and header (only EdDSA with
 * a kid) before any key lookup; the signature before the payload is interpreted; then issuer,
 * audience, times and the pinned IP. Every refusal is an {@link InvalidSessionError}
 * (UNAUTHENTICATED) naming the problem without quoting the token. A key source that cannot
 * reach identity throws UnavailableError instead: that is not the token's fault.
 *
 * The Ed25519 check is most of a call's cost and a session presents the same token on every
 * call, so a bounded memory of tokens already verified (by SHA-256 of the token, never the token
 * itself) skips it. Only the signature and the parsing are remembered: a hit still needs the key
 * source to return the same key (a key withdrawn or replaced refuses the token), and every check
 * that depends on time or caller (expiry, not-before, the key's validity window, the pinned IP)
 * runs on every call.
 */
export class SessionVerifier {
  private readonly clock: Clock;
  private readonly leewayMs: number;
  private readonly maxTokenBytes: number;
  private readonly maxSessionMs: number;
  private readonly cacheSize: number;
  private readonly verified = new Map<string, Verified>();

  constructor(private readonly opts: SessionVerifierOptions) {
    if (!opts.issuer || !opts.audience) throw new TypeError('SessionVerifier: issuer and audience are required');
    const leeway = opts.leewaySeconds ?? 30;
    if (!Number.isFinite(leeway) || leeway < 0 || leeway > 300) throw new TypeError('SessionVerifier: leewaySeconds must be within 0..300');
    const maxBytes = opts.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
    if (!Number.isInteger(maxBytes) || maxBytes < 256 || maxBytes > 64 * 1024) {
      throw new TypeError('SessionVerifier: maxTokenBytes must be an integer within 256..65536');
    }
    const maxSession = opts.maxSessionSeconds ?? 24 * 3600;
    if (!Number.isFinite(maxSession) || maxSession <= 0) throw new TypeError('SessionVerifier: maxSessionSeconds must be positive');
    this.clock = opts.clock ?? systemClock;
    this.leewayMs = leeway * 1000;
    this.maxTokenBytes = maxBytes;
    this.maxSessionMs = maxSession * 1000;
    const cacheSize = opts.verifiedCacheSize ?? 10_000;
    if (!Number.isInteger(cacheSize) || cacheSize < 0) throw new TypeError('SessionVerifier: verifiedCacheSize must be a non-negative integer');
    this.cacheSize = cacheSize;
  }

  /** The claims of a valid token; throws {@link InvalidSessionError} for any other. */
  async verify(token: string, options: VerifyOptions = {}): Promise<SessionClaims> {
    if (typeof token !== 'string' || token.length === 0) throw sessionRejected('missing');
    const digest = this.cacheSize > 0 && token.length <= this.maxTokenBytes ? createHash('sha256').update(token).digest('base64') : undefined;
    const seen = digest === undefined ? undefined : this.verified.get(digest);
    if (seen !== undefined) {
      if ((await this.opts.keys.key(seen.kid)) !== seen.key) {
        // The key was withdrawn or replaced since: verify afresh against what the source holds now.
        this.verified.delete(digest!);
      } else {
        return this.checkClaims(seen, options, digest);
      }
    }
    const jws = parseSessionJws(token, this.maxTokenBytes);
    const kid = jws.header.kid;
    const key = await this.opts.keys.key(kid);
    if (key === undefined) throw sessionRejected('unknown_key');
    if (key.type !== 'public' || key.asymmetricKeyType !== 'ed25519') {
      // Never let a misbehaving key source pick the algorithm: node would verify RSA or EC too.
      throw new Error(`SessionVerifier: the key source returned a ${key.asymmetricKeyType ?? key.type} key for an EdDSA token`);
    }
    let valid = false;
    try {
      valid = cryptoVerify(null, jws.signingInput, key, jws.signature);
    } catch {
      valid = false;
    }
    if (!valid) throw sessionRejected('bad_signature');

    const { notBefore, ...claims } = claimsOfPayload(jsonOf(jws.payload, 'payload'));
    const checked: Verified = { kid, key, claims, notBefore };
    const out = this.checkClaims(checked, options, undefined);
    if (digest !== undefined) {
      if (this.verified.size >= this.cacheSize) this.verified.delete(this.verified.keys().next().value as string);
      this.verified.set(digest, checked);
    }
    return out;
  }

  /** The checks of a signed token that depend on time, the key's window and the caller: run on every call. */
  private checkClaims({ kid, claims, notBefore }: Verified, options: VerifyOptions, cached: string | undefined): SessionClaims {
    if (claims.issuer !== this.opts.issuer) throw sessionRejected('wrong_issuer');
    if (claims.audience !== this.opts.audience) throw sessionRejected('wrong_audience');
    const now = this.clock.now().getTime();
    if (now >= claims.expiresAt.getTime()) {
      if (cached !== undefined) this.verified.delete(cached);
      throw sessionRejected('expired');
    }
    if (claims.issuedAt.getTime() > now + this.leewayMs) throw sessionRejected('not_yet_valid');
    if (notBefore !== undefined && notBefore.getTime() > now + this.leewayMs) {
      throw new InvalidSessionError('not_yet_valid', 'session token is not valid yet (nbf is in the future; check the clocks)');
    }
    if (claims.expiresAt.getTime() - claims.authTime.getTime() > this.maxSessionMs) throw sessionRejected('too_long_lived');
    const window = this.opts.keys.validity?.(kid);
    if (window?.notBefore !== undefined && claims.issuedAt.getTime() < Math.floor(window.notBefore.getTime() / 1000) * 1000) {
      throw new InvalidSessionError('bad_signature', 'session token is dated before its signing key became valid');
    }
    if (options.presentedIp !== undefined && normalizeIp(options.presentedIp) !== claims.pinnedIp) throw sessionRejected('ip_mismatch');
    // A copy: the remembered claims are never handed out, so no caller can edit them for the next.
    return structuredClone(claims);
  }
}
