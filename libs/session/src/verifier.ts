import { verify as cryptoVerify } from 'node:crypto';
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
 */
export class SessionVerifier {
  private readonly clock: Clock;
  private readonly leewayMs: number;
  private readonly maxTokenBytes: number;
  private readonly maxSessionMs: number;

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
  }

  /** The claims of a valid token; throws {@link InvalidSessionError} for any other. */
  async verify(token: string, options: VerifyOptions = {}): Promise<SessionClaims> {
    if (typeof token !== 'string' || token.length === 0) throw sessionRejected('missing');
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
    if (claims.issuer !== this.opts.issuer) throw sessionRejected('wrong_issuer');
    if (claims.audience !== this.opts.audience) throw sessionRejected('wrong_audience');
    const now = this.clock.now().getTime();
    if (now >= claims.expiresAt.getTime()) throw sessionRejected('expired');
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
    return claims;
  }
}
