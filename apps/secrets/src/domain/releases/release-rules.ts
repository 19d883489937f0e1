import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError, PermissionDeniedError } from '@gatehouse/core';
import { cidrContains, parseCidr, tryParseIp, type ParsedCidr } from '@gatehouse/ip';
import { LIVE_ROLES } from '@gatehouse/session';
import type { Environment } from '../model.js';

/** Default lifetime of a release token (issue 6 item 3). */
export const DEFAULT_RELEASE_TTL_MS = 15 * 60_000;
/** Shortest and longest TTL CreateRelease accepts. */
export const MIN_RELEASE_TTL_MS = 60_000;
export const MAX_RELEASE_TTL_MS = 24 * 3600_000;

const TOKEN = /^ghr_[A-Za-z0-9_-]{43}$/;
const IDENTITY = /^(backend|operator|service):[a-z][a-z0-9-]{0,62}$/;
const APP = /^[a-z][a-z0-9-]{0,62}$/;
const SECRET_NAME = /^[A-Z][A-Z0-9_]{0,127}$/;
const DEPLOYMENT_REF = /^[A-Za-z0-9._:/@+-]{1,128}$/;

/** Who may create (and approve) releases per environment (P1): LIVE only manager and team_lead. */
export const RELEASE_CREATORS: Readonly<Record<Environment, readonly string[]>> = Object.freeze({
  live: LIVE_ROLES,
  staging: ['manager', 'team_lead', 'developer'],
});

/** An app name (SecretMetadata.app): INVALID_ARGUMENT naming `field` otherwise. */
export function checkApp(app: unknown, field = 'app'): string {
  if (typeof app !== 'string' || !APP.test(app)) throw new InvalidArgumentError(field, 'must be 1-63 characters of a-z, 0-9 and -, starting with a letter');
  return app;
}

/** A secret name, usable as an environment-variable name (SecretMetadata.name). */
export function checkSecretName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || !SECRET_NAME.test(name)) {
    throw new InvalidArgumentError(field, 'must be 1-128 characters of A-Z, 0-9 and _, starting with a letter (e.g. DATABASE_PASSWORD)');
  }
  return name;
}

/** A fresh release token: 256 random bits, shown once. */
export function newReleaseToken(): string {
  return `ghr_${randomBytes(32).toString('base64url')}`;
}

/** What is stored instead of the token: SHA-256, so a database read gives nothing redeemable. */
export function releaseTokenHash(token: string): string {
  return createHash('sha256').update(`gatehouse/release:${token}`).digest('hex');
}

/** True if `token` has the shape of a release token (anything else is refused before any lookup). */
export function isReleaseTokenShape(token: unknown): token is string {
  return typeof token === 'string' && TOKEN.test(token);
}

/** Constant-time comparison of two token hashes. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The creator must hold a role that may release to this environment; PERMISSION_DENIED names the rule. */
export function checkCreator(roles: readonly string[], env: Environment): void {
  const allowed = RELEASE_CREATORS[env];
  if (!roles.some((r) => allowed.includes(r))) {
    throw new PermissionDeniedError(`releases for ${env.toUpperCase()} may only be created by ${allowed.join(' or ')}${env === 'live' ? ' (policy P1)' : ''}`);
  }
}

/** The validated parts of a CreateRelease request. */
export interface ReleaseTerms {
  app: string;
  deploymentRef: string;
  ttlMs: number;
  boundCidr: ParsedCidr | null;
  boundClientIdentity: string | null;
}

/** Checks CreateRelease's inputs, naming the field of the first problem. */
export function releaseTerms(req: { app: string; deploymentRef: string; ttlMs: number | undefined; boundCidr: string | undefined; boundClientIdentity: string | undefined }): ReleaseTerms {
  checkApp(req.app);
  if (!DEPLOYMENT_REF.test(req.deploymentRef)) throw new InvalidArgumentError('deployment_ref', 'must be 1-128 characters of A-Z a-z 0-9 . _ : / @ + - (a commit, tag or pipeline id)');
  const ttlMs = req.ttlMs ?? DEFAULT_RELEASE_TTL_MS;
  if (!Number.isFinite(ttlMs) || ttlMs < MIN_RELEASE_TTL_MS || ttlMs > MAX_RELEASE_TTL_MS) {
    throw new InvalidArgumentError('ttl', `must be from ${MIN_RELEASE_TTL_MS / 60_000} minute to ${MAX_RELEASE_TTL_MS / 3600_000} hours`);
  }
  const boundCidr = req.boundCidr === undefined || req.boundCidr === '' ? null : parseCidr(req.boundCidr, { minPrefixV4: 8, minPrefixV6: 32, normalize: false, field: 'bound_cidr' }).cidr;
  let boundClientIdentity: string | null = null;
  if (req.boundClientIdentity !== undefined && req.boundClientIdentity !== '') {
    const id = req.boundClientIdentity.replace(/^urn:gatehouse:/, '');
    if (!IDENTITY.test(id)) throw new InvalidArgumentError('bound_client_identity', 'must be a certificate identity: backend:<name>, operator:<name> or service:<name>');
    boundClientIdentity = id;
  }
  return { app: req.app, deploymentRef: req.deploymentRef, ttlMs, boundCidr, boundClientIdentity };
}

/**
 * The bindings a redemption must satisfy: from an address inside the bound CIDR, with the bound
 * client certificate. Returns the reason of a mismatch (for the audit event), or undefined.
 */
export function bindingMismatch(release: { boundCidr: string | null; boundClientIdentity: string | null }, from: { ip: string; identity: string }): 'cidr' | 'identity' | undefined {
  if (release.boundCidr !== null) {
    const ip = tryParseIp(from.ip);
    const cidr = parseCidr(release.boundCidr, { minPrefixV4: 1, minPrefixV6: 1, normalize: false }).cidr;
    if (!ip || !cidrContains(cidr, ip)) return 'cidr';
  }
  if (release.boundClientIdentity !== null && release.boundClientIdentity !== from.identity) return 'identity';
  return undefined;
}
