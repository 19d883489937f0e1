import { constants, verify as verifySignature } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { PermissionDeniedError, UnauthenticatedError, UnavailableError, isDomainError } from '@gatehouse/core';
import type { Clock } from '@gatehouse/core';
import { DEV_ISSUER, MIN_RSA_BITS } from '@gatehouse/dev-issuer';
import { member, parseCompactJws } from './compact-jws.js';

export { DEV_ISSUER, MIN_RSA_BITS };
import type { JsonObject } from './compact-jws.js';
import { MAX_KID_LENGTH } from './jwks.js';
import type { JwksSource } from './jwks.js';

/** The two spellings Google uses for `iss` (its docs: accept either). */
export const GOOGLE_ISSUERS = ['accounts.google.com', 'https://accounts.google.com'] as const;

/**
 * The issuer reported for every Google token, whichever spelling it carried: the same Google
 * user gets either spelling depending on the flow, and accounts are keyed by issuer + subject,
 * so the two must not become two accounts.
 */
export const GOOGLE_ISSUER = 'https://accounts.google.com';


/** Default tolerance for clock skew on `exp`, `iat` and `nbf`. */
export const DEFAULT_LEEWAY_SECONDS = 60;
/** Largest leeway we agree to: "small leeway" (issue 4), not a way to extend token life. */
export const MAX_LEEWAY_SECONDS = 300;
/** Google ID tokens are about 1-1.5 KB; anything far bigger is refused before parsing. */
export const DEFAULT_MAX_TOKEN_BYTES = 8 * 1024;

/** Largest RSA modulus accepted, to bound the cost of one verification. */
export const MAX_RSA_BITS = 8192;

/** How the verifier decides whom to trust. */
export interface GoogleTokenVerifierConfig {
  /** OAuth client ids of Gatehouse: `aud` must be one of these. At least one. */
  readonly clientIds: readonly string[];
  /**
   * Accepted `iss` values; a non-empty subset of {@link GOOGLE_ISSUERS} (the default). The dev
   * issuer can never be listed here: it is enabled only through `devMode` + `devIssuerKeys`.
   */
  readonly allowedIssuers?: readonly string[];
  /**
   * Google Workspace domains allowed to sign in. Empty means no hosted-domain requirement (any
   * Google account, including consumer accounts without `hd`). Non-empty means `hd` MUST be
   * present and be one of these (compared case-insensitively).
   */
  readonly allowedHostedDomains: readonly string[];
  /** Clock-skew tolerance for `exp`, `iat`, `nbf`; default 60, at most 300. */
  readonly leewaySeconds?: number;
  /** Tokens longer than this (UTF-8 bytes) are refused before any parsing; default 8 KiB. */
  readonly maxTokenBytes?: number;
  /** Google's signing keys (the HTTP JWKS adapter in production). */
  readonly jwks: JwksSource;
  /** Time source for `exp` / `iat` / `nbf`. */
  readonly clock: Clock;
  /** Dev mode: tokens of {@link DEV_ISSUER} are accepted, but only if `devIssuerKeys` is set. */
  readonly devMode?: boolean;
  /**
   * Keys of the local dev issuer. Setting this without `devMode: true` is a configuration
   * error (the constructor throws), so a production config cannot half-enable it.
   */
  readonly devIssuerKeys?: JwksSource;
}

/** A verified Google identity. Key the account by issuer + subject; email is display only. */
export interface VerifiedGoogleIdentity {
  /** {@link GOOGLE_ISSUER} for Google tokens (both spellings), {@link DEV_ISSUER} for dev ones. */
  readonly issuer: string;
  /** Google's stable, never-reused account id (`sub`). */
  readonly subject: string;
  /** For display and notifications only; it can change and must not key anything. */
  readonly email: string;
  readonly emailVerified: true;
  /** The Workspace domain (`hd`), lower-cased, when the account has one. */
  readonly hostedDomain?: string;
  readonly name?: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

/** Registered JWS alg names (RFC 7518 and friends): safe to name in a message. */
const KNOWN_ALGS = new Set([
  'HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'ES256K',
  'PS256', 'PS384', 'PS512', 'EdDSA', 'Ed25519', 'Ed448',
]);

function refuse(message: string): never {
  throw new UnauthenticatedError(`ID token ${message}`);
}

function numericDate(payload: JsonObject, name: string, required: boolean): number | undefined {
  const v = member(payload, name);
  if (v === undefined && !required) return undefined;
  if (v === undefined) refuse(`has no ${name}`);
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) refuse(`${name} is not a valid NumericDate`);
  return v;
}

/** The header checks, run before the payload is even decoded. */
function checkHeader(header: JsonObject): void {
  const alg = member(header, 'alg');
  if (alg === undefined) refuse('header has no alg');
  if (typeof alg !== 'string') refuse('header alg is not a string');
  if (alg !== 'RS256') {
    if (alg.trim().toLowerCase() === 'none') refuse('alg "none" is refused: only RS256 signatures are accepted');
    if (/^hs\d*$/i.test(alg.trim())) {
      refuse(`alg ${KNOWN_ALGS.has(alg) ? alg : 'HS*'} (HMAC) is refused: only RS256 signatures are accepted`);
    }
    refuse(`alg ${KNOWN_ALGS.has(alg) ? alg : '(unrecognised)'} is refused: only RS256 signatures are accepted`);
  }
  if (member(header, 'crit') !== undefined) refuse('header has critical extensions (crit), which are not supported');
  const typ = member(header, 'typ');
  if (typ !== undefined && (typeof typ !== 'string' || typ.toUpperCase() !== 'JWT')) refuse('header typ must be JWT');
  const kid = member(header, 'kid');
  if (kid === undefined) refuse('header has no kid (key id)');
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH) refuse('header kid is invalid');
}

/**
 * Verifies Google ID tokens (step 1 of sign-in, P5; ASVS 6.8.1-6.8.2) with node:crypto only:
 * exactly RS256 with a ≥ 2048-bit key from the issuer's JWKS, then `iss`, `aud`, `exp`/`iat`
 * with a small leeway, `sub`, `email_verified` and the hosted-domain rule.
 *
 * Errors: UnauthenticatedError for every token that fails verification, its message naming
 * the problem (never the token); PermissionDeniedError when an authentic token belongs to a
 * hosted domain that is not allowed (the proto's BeginSignIn contract: PERMISSION_DENIED "for
 * an account ... whose hosted domain is not allowed"); UnavailableError when the keys cannot
 * be fetched.
 */
export class GoogleTokenVerifier {
  private readonly clientIds: ReadonlySet<string>;
  private readonly allowedIssuers: ReadonlySet<string>;
  private readonly hostedDomains: ReadonlySet<string>;
  private readonly leewaySeconds: number;
  private readonly maxTokenBytes: number;
  private readonly jwks: JwksSource;
  private readonly clock: Clock;
  private readonly devIssuerKeys: JwksSource | undefined;

  constructor(config: GoogleTokenVerifierConfig) {
    const clientIds = config.clientIds.map((c) => c.trim());
    if (clientIds.length === 0 || clientIds.some((c) => c.length === 0)) {
      throw new Error('GoogleTokenVerifier: at least one non-empty client id is required');
    }
    const issuers = config.allowedIssuers ?? GOOGLE_ISSUERS;
    if (issuers.length === 0 || issuers.some((i) => !(GOOGLE_ISSUERS as readonly string[]).includes(i))) {
      throw new Error(`GoogleTokenVerifier: allowedIssuers must be a non-empty subset of ${GOOGLE_ISSUERS.join(', ')}`);
    }
    const domains = config.allowedHostedDomains.map((d) => d.trim().toLowerCase());
    if (domains.some((d) => d.length === 0)) throw new Error('GoogleTokenVerifier: empty hosted domain in allowedHostedDomains');
    const leeway = config.leewaySeconds ?? DEFAULT_LEEWAY_SECONDS;
    if (!Number.isInteger(leeway) || leeway < 0 || leeway > MAX_LEEWAY_SECONDS) {
      throw new Error(`GoogleTokenVerifier: leewaySeconds must be an integer in [0, ${MAX_LEEWAY_SECONDS}]`);
    }
    const maxBytes = config.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
    if (!Number.isInteger(maxBytes) || maxBytes < 512 || maxBytes > 64 * 1024) {
      throw new Error('GoogleTokenVerifier: maxTokenBytes must be an integer in [512, 65536]');
    }
    if (config.devIssuerKeys && config.devMode !== true) {
      throw new Error('GoogleTokenVerifier: devIssuerKeys is set but devMode is not: dev tokens are refused outside dev mode');
    }
    this.clientIds = new Set(clientIds);
    this.allowedIssuers = new Set(issuers);
    this.hostedDomains = new Set(domains);
    this.leewaySeconds = leeway;
    this.maxTokenBytes = maxBytes;
    this.jwks = config.jwks;
    this.clock = config.clock;
    this.devIssuerKeys = config.devMode === true ? config.devIssuerKeys : undefined;
  }

  /** Whether tokens of the local dev issuer can be accepted by this verifier. */
  get acceptsDevTokens(): boolean {
    return this.devIssuerKeys !== undefined;
  }

  /** Verifies `idToken` and returns the identity it proves, or throws (see the class doc). */
  async verify(idToken: string): Promise<VerifiedGoogleIdentity> {
    if (typeof idToken !== 'string' || idToken.length === 0) refuse('is missing');
    // Length in UTF-16 units is a cheap lower bound of the UTF-8 length: check it before
    // asking for the exact byte count of a possibly huge string.
    if (idToken.length > this.maxTokenBytes || Buffer.byteLength(idToken, 'utf8') > this.maxTokenBytes) {
      refuse(`is too large (over ${this.maxTokenBytes} bytes)`);
    }
    const jws = parseCompactJws(idToken, checkHeader);
    const kid = member(jws.header, 'kid') as string; // checked by checkHeader

    // Choose the key set by the (not yet trusted) issuer. The signature then covers `iss`, so a
    // key of one issuer can never vouch for a token claiming another.
    const iss = member(jws.payload, 'iss');
    if (iss === undefined) refuse('has no iss');
    if (typeof iss !== 'string') refuse('iss is not a string');
    let keys: JwksSource;
    let issuer: string;
    if (iss === DEV_ISSUER) {
      if (!this.devIssuerKeys) refuse('is from the local dev issuer: dev tokens are refused outside dev mode');
      keys = this.devIssuerKeys;
      issuer = DEV_ISSUER;
    } else if (this.allowedIssuers.has(iss)) {
      keys = this.jwks;
      issuer = GOOGLE_ISSUER;
    } else {
      refuse('iss is not a trusted issuer');
    }

    const key = await this.lookUpKey(keys, kid);
    checkKey(key);
    const modulusBytes = Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
    if (jws.signature.length !== modulusBytes) refuse('signature is invalid');
    let valid = false;
    try {
      valid = verifySignature('sha256', jws.signingInput, { key, padding: constants.RSA_PKCS1_PADDING }, jws.signature);
    } catch {
      valid = false;
    }
    if (!valid) refuse('signature is invalid');

    return this.checkClaims(jws.payload, issuer);
  }

  private async lookUpKey(keys: JwksSource, kid: string): Promise<KeyObject> {
    let key: KeyObject | undefined;
    try {
      key = await keys.key(kid);
    } catch (err) {
      if (isDomainError(err)) throw err;
      throw new UnavailableError('Google signing keys are unavailable; try again later', { cause: err });
    }
    if (!key) refuse('is signed with an unknown key (kid not in the issuer\'s JWKS)');
    return key;
  }

  private checkClaims(payload: JsonObject, issuer: string): VerifiedGoogleIdentity {
    const aud = member(payload, 'aud');
    if (aud === undefined) refuse('has no aud');
    if (typeof aud === 'string') {
      if (!this.clientIds.has(aud)) refuse('aud is not a configured client id');
    } else if (Array.isArray(aud)) {
      // Every audience must be ours; one untrusted entry means the token was also meant for
      // someone else, who could replay it here.
      if (aud.length === 0 || !aud.every((a) => typeof a === 'string' && this.clientIds.has(a))) {
        refuse('aud contains an audience that is not a configured client id');
      }
      if (aud.length !== 1) refuse('aud must name exactly one client id');
    } else {
      refuse('aud is not a string or an array of strings');
    }

    const nowSeconds = this.clock.now().getTime() / 1000;
    const exp = numericDate(payload, 'exp', true) as number;
    const iat = numericDate(payload, 'iat', true) as number;
    const nbf = numericDate(payload, 'nbf', false);
    if (nowSeconds >= exp + this.leewaySeconds) refuse('has expired');
    if (iat > nowSeconds + this.leewaySeconds) refuse('iat is in the future: the token is not yet valid');
    if (nbf !== undefined && nbf > nowSeconds + this.leewaySeconds) refuse('is not yet valid (nbf is in the future)');
    if (exp <= iat) refuse('exp is not after iat');

    const sub = member(payload, 'sub');
    if (typeof sub !== 'string' || sub.length === 0) refuse('has no sub');
    if (sub.length > 255) refuse('sub is too long');

    const email = member(payload, 'email');
    if (typeof email !== 'string' || email.length === 0) refuse('has no email');
    if (email.length > 320) refuse('email is too long');
    const emailVerified = member(payload, 'email_verified');
    if (emailVerified !== true && emailVerified !== 'true') {
      refuse('email is not verified (email_verified must be true)');
    }

    const name = member(payload, 'name');
    const hd = member(payload, 'hd');
    if (hd !== undefined && (typeof hd !== 'string' || hd.length === 0)) refuse('hd is not a valid domain');
    const hostedDomain = hd === undefined ? undefined : hd.toLowerCase();
    // Last, so that only an authentic, otherwise valid token reaches PERMISSION_DENIED.
    if (this.hostedDomains.size > 0) {
      if (hostedDomain === undefined) {
        throw new PermissionDeniedError('ID token has no hosted domain (hd), and one is required: sign in with a Google Workspace account of an allowed domain');
      }
      if (!this.hostedDomains.has(hostedDomain)) {
        throw new PermissionDeniedError('ID token hosted domain (hd) is not allowed');
      }
    }

    return {
      issuer,
      subject: sub,
      email,
      emailVerified: true,
      ...(hostedDomain !== undefined ? { hostedDomain } : {}),
      ...(typeof name === 'string' && name.length > 0 ? { name } : {}),
      issuedAt: new Date(iat * 1000),
      expiresAt: new Date(exp * 1000),
    };
  }
}

/** Refuses keys we would not sign with ourselves, whatever the JWKS said. */
function checkKey(key: KeyObject): void {
  if (key.type !== 'public' || key.asymmetricKeyType !== 'rsa') refuse('signing key is not an RSA public key');
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) refuse(`signing key is too weak: RSA keys must have at least ${MIN_RSA_BITS} bits`);
  if (bits > MAX_RSA_BITS) refuse(`signing key is too large: RSA keys must have at most ${MAX_RSA_BITS} bits`);
  // A tiny or even exponent makes forgeries easy (e = 1 turns the signature into the message).
  const e = key.asymmetricKeyDetails?.publicExponent;
  if (e === undefined || e < 65537n || e % 2n === 0n) refuse('signing key has an unsafe RSA public exponent');
}
