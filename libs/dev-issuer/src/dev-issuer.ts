import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import type { Clock } from '@gatehouse/core';

/**
 * The `iss` of dev tokens. A reserved `.invalid` name (RFC 2606), so it can never be a real
 * issuer; identity's verifier accepts it only in dev mode with these keys.
 */
export const DEV_ISSUER = 'https://dev-issuer.gatehouse.invalid';

/** Smallest RSA key the dev issuer uses (Google's verifier refuses smaller ones too). */
export const MIN_RSA_BITS = 2048;

/** Where a verifier takes keys from (structurally identity's JwksSource). */
export interface JwksSource {
  key(kid: string): Promise<KeyObject | undefined>;
}

/** RFC 7638 JWK thumbprint of an RSA public key (base64url SHA-256 of the canonical JWK). */
export function rsaThumbprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' }) as JsonWebKey;
  if (jwk.kty !== 'RSA' || typeof jwk.n !== 'string' || typeof jwk.e !== 'string') {
    throw new Error('not an RSA public key');
  }
  const canonical = JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n });
  return createHash('sha256').update(canonical).digest('base64url');
}

/**
 * Development without Google (DESIGN.md §3): a local issuer that signs Google-shaped RS256 ID
 * tokens with a local key. Its `iss` is always {@link DEV_ISSUER}, which the production
 * verifier never accepts; only a verifier built with `devMode: true` and these keys does.
 */

/** Client id that dev tokens carry when the wiring has no Google client id configured. */
export const DEV_CLIENT_ID = 'gatehouse-dev.apps.gatehouse.invalid';
/** Lifetime of a dev token, like Google's ID tokens. */
export const DEV_TOKEN_LIFETIME_SECONDS = 3600;

/** What a dev token says about its holder. */
export interface DevTokenClaims {
  readonly email: string;
  /** `aud`: must be one of the verifier's client ids. */
  readonly audience: string;
  /** `sub`; default: derived from the lower-cased e-mail, so the same dev user keeps one account. */
  readonly subject?: string;
  readonly name?: string;
  /** `hd`; default: the e-mail's domain (a Workspace-shaped account). `null` leaves it out. */
  readonly hostedDomain?: string | null;
  /** `email_verified`; default true. False only to exercise refusals. */
  readonly emailVerified?: boolean;
  /** Default {@link DEV_TOKEN_LIFETIME_SECONDS}. */
  readonly lifetimeSeconds?: number;
  /** `nonce`: the value an OpenID Connect client sent to the authorize endpoint (the console's sign-in). */
  readonly nonce?: string;
}

/** Options of {@link DevIdTokenIssuer}. */
export interface DevIdTokenIssuerOptions {
  readonly clock: Clock;
  /** A key persisted earlier (PKCS#8 PEM, RSA ≥ 2048 bits); without it one is generated on first use. */
  readonly privateKeyPem?: string;
}

/** Signs Google-shaped dev ID tokens; see the module doc. */
export class DevIdTokenIssuer {
  private readonly clock: Clock;
  private privateKey: KeyObject | undefined;
  private cachedKid: string | undefined;
  private generatedKey = false;

  constructor(options: DevIdTokenIssuerOptions) {
    this.clock = options.clock;
    if (options.privateKeyPem !== undefined) this.privateKey = importDevPrivateKey(options.privateKeyPem);
  }

  /** True once this instance generated its own key: the caller should persist {@link privateKeyPem}. */
  get generated(): boolean {
    return this.generatedKey;
  }

  /** The signing key as PKCS#8 PEM, for the wiring to persist (0600, in the data directory). */
  privateKeyPem(): string {
    return this.key().export({ type: 'pkcs8', format: 'pem' }) as string;
  }

  /** The public key as SPKI PEM: enough for another process to build a {@link DevJwksSource}. */
  publicKeyPem(): string {
    return createPublicKey(this.key()).export({ type: 'spki', format: 'pem' }) as string;
  }

  /** The key id: the RFC 7638 thumbprint of the public key, prefixed `dev-`. */
  get kid(): string {
    this.cachedKid ??= devKid(createPublicKey(this.key()));
    return this.cachedKid;
  }

  /** The keys of this issuer, for the verifier's `devIssuerKeys`. */
  jwksSource(): DevJwksSource {
    return new DevJwksSource(createPublicKey(this.key()));
  }

  /** The JWKS document of this issuer, should a dev stack want to serve it. */
  publicJwks(): { keys: JsonWebKey[] } {
    const jwk = createPublicKey(this.key()).export({ format: 'jwk' }) as JsonWebKey;
    return { keys: [{ kty: 'RSA', n: jwk.n, e: jwk.e, kid: this.kid, alg: 'RS256', use: 'sig' }] };
  }

  /** Issues a signed dev ID token shaped like Google's. */
  issue(claims: DevTokenClaims): string {
    const email = claims.email.trim();
    const at = email.lastIndexOf('@');
    if (at <= 0 || at === email.length - 1) throw new Error('DevIdTokenIssuer: email must look like user@domain');
    if (claims.audience.length === 0) throw new Error('DevIdTokenIssuer: audience is required');
    const lifetime = claims.lifetimeSeconds ?? DEV_TOKEN_LIFETIME_SECONDS;
    if (!Number.isInteger(lifetime) || lifetime <= 0) throw new Error('DevIdTokenIssuer: lifetimeSeconds must be a positive integer');
    const hd = claims.hostedDomain === undefined ? email.slice(at + 1).toLowerCase() : claims.hostedDomain;
    const iat = Math.floor(this.clock.now().getTime() / 1000);
    const header = { alg: 'RS256', kid: this.kid, typ: 'JWT' };
    const payload = {
      iss: DEV_ISSUER,
      azp: claims.audience,
      aud: claims.audience,
      sub: claims.subject ?? devSubject(email),
      ...(hd !== null ? { hd } : {}),
      email,
      email_verified: claims.emailVerified ?? true,
      ...(claims.name !== undefined ? { name: claims.name } : {}),
      ...(claims.nonce !== undefined ? { nonce: claims.nonce } : {}),
      iat,
      exp: iat + lifetime,
    };
    const input = `${b64json(header)}.${b64json(payload)}`;
    const signature = sign('sha256', Buffer.from(input, 'ascii'), this.key());
    return `${input}.${signature.toString('base64url')}`;
  }

  private key(): KeyObject {
    if (!this.privateKey) {
      this.privateKey = generateKeyPairSync('rsa', { modulusLength: MIN_RSA_BITS, publicExponent: 65537 }).privateKey;
      this.generatedKey = true;
    }
    return this.privateKey;
  }
}

/**
 * The dev issuer's keys as a {@link JwksSource}: the one public key under its thumbprint kid.
 * Built from the issuer, or from its public key PEM when the issuer runs in another process.
 */
export class DevJwksSource implements JwksSource {
  private readonly publicKey: KeyObject;
  private readonly kid: string;

  constructor(publicKey: KeyObject | string) {
    const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey;
    if (key.asymmetricKeyType !== 'rsa') throw new Error('DevJwksSource: the dev key must be RSA');
    this.publicKey = key;
    this.kid = devKid(key);
  }

  async key(kid: string): Promise<KeyObject | undefined> {
    return kid === this.kid ? this.publicKey : undefined;
  }
}

function importDevPrivateKey(pem: string): KeyObject {
  const key = createPrivateKey({ key: pem, format: 'pem' });
  if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) {
    throw new Error(`DevIdTokenIssuer: the dev key must be an RSA private key of at least ${MIN_RSA_BITS} bits`);
  }
  return key;
}

function devKid(publicKey: KeyObject): string {
  return `dev-${rsaThumbprint(publicKey)}`;
}

/** A stable, Google-looking (numeric, 21 digits) subject for a dev e-mail. */
function devSubject(email: string): string {
  const digest = createHash('sha256').update(`gatehouse-dev:${email.toLowerCase()}`).digest();
  return `1${(digest.readBigUInt64BE(0) % 10n ** 20n).toString().padStart(20, '0')}`;
}

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}
