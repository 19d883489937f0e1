import { InvalidSessionError } from './errors.js';
import { normalizeIp } from './ip.js';

/** The roles the security officer grants (DESIGN.md §3), spelled as the token's `roles` claim spells them. */
export const ROLES = ['security_officer', 'manager', 'team_lead', 'developer', 'support'] as const;

/** A role an employee holds; permissions of several roles add up. */
export type Role = (typeof ROLES)[number];

/** The roles that reach LIVE customer data (P1): managers and team leads, nobody else. */
export const LIVE_ROLES: readonly Role[] = Object.freeze(['manager', 'team_lead'] as const);

/** True when the roles include one that reaches LIVE. */
export function reachesLive(roles: readonly string[]): boolean {
  return roles.some((r) => (LIVE_ROLES as readonly string[]).includes(r));
}

/**
 * What a session may be used for: `full` is everything the roles allow; `register-ip` is a
 * session issued from an IP not on the allowlist, good only for registering today's IP (P7).
 */
export type SessionScope = 'full' | 'register-ip';

/** Until when the session may reach each data environment (P1); absent means not at all. */
export interface EnvironmentExpiry {
  live?: Date;
  staging?: Date;
}

/**
 * What a verified session token asserts, in domain terms (no gRPC types), so handlers and
 * domain code can decide on it without knowing the JWT claim names.
 */
export interface SessionClaims {
  /** `iss`: identity's issuer name. */
  issuer: string;
  /** `aud`: who the token is for. */
  audience: string;
  /** `sub`: the Gatehouse account id. */
  accountId: string;
  /** `sid`: the session id, stable across refreshes; what RevokeSession names. */
  sessionId: string;
  /** `iat`. */
  issuedAt: Date;
  /** `exp`. */
  expiresAt: Date;
  /** `auth_time`: when the sign-in completed; unchanged by refreshes. */
  authTime: Date;
  /** Display only, never a key. */
  email: string;
  /**
   * `name` (OIDC Core §5.1): the account's display name, display only; absent in tokens of older
   * identity versions. Impersonation shows it in the customer-visible access log instead of the e-mail.
   */
  displayName?: string;
  /** Roles held when the token was issued. */
  roles: Role[];
  /** `amr`: sign-in methods, lower case ("google", "sms", "totp", "hotp"). */
  amr: string[];
  /** `cip`: the client IP the session is pinned to. */
  pinnedIp: string;
  scope: SessionScope;
  env: EnvironmentExpiry;
}

/** The employee behind a session, as handlers pass it to the domain (like common.v1.Principal). */
export interface Employee {
  accountId: string;
  email: string;
  roles: Role[];
}

/** The employee a session speaks for. */
export function employeeOf(claims: SessionClaims): Employee {
  return { accountId: claims.accountId, email: claims.email, roles: [...claims.roles] };
}

/** True if `value` is one of the five role names. */
export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** The JSON payload of a session token, claim by claim (RFC 7519 names plus ours). */
export interface SessionTokenPayload {
  iss: string;
  aud: string;
  sub: string;
  sid: string;
  iat: number;
  exp: number;
  auth_time: number;
  email: string;
  name?: string;
  roles: Role[];
  amr: string[];
  cip: string;
  scope: SessionScope;
  env: { live?: number; staging?: number };
  nbf?: number;
}

/** Seconds since the epoch (a JWT NumericDate), rounded down. */
export function toNumericDate(at: Date): number {
  return Math.floor(at.getTime() / 1000);
}

/** The payload a token carries for these claims. */
export function payloadOf(claims: SessionClaims): SessionTokenPayload {
  const env: SessionTokenPayload['env'] = {};
  if (claims.env.live !== undefined) env.live = toNumericDate(claims.env.live);
  if (claims.env.staging !== undefined) env.staging = toNumericDate(claims.env.staging);
  return {
    iss: claims.issuer,
    aud: claims.audience,
    sub: claims.accountId,
    sid: claims.sessionId,
    iat: toNumericDate(claims.issuedAt),
    exp: toNumericDate(claims.expiresAt),
    auth_time: toNumericDate(claims.authTime),
    email: claims.email,
    ...(claims.displayName ? { name: claims.displayName } : {}),
    roles: [...claims.roles],
    amr: [...claims.amr],
    cip: claims.pinnedIp,
    scope: claims.scope,
    env,
  };
}

/** 9999-12-31T23:59:59Z: later NumericDates are nonsense, and Date could not hold them all. */
const MAX_NUMERIC_DATE = 253_402_300_799;

function malformed(detail: string): never {
  throw new InvalidSessionError('malformed', `session token is malformed: ${detail}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function str(obj: Record<string, unknown>, key: string, maxLength: number, allowEmpty = false): string {
  const v = own(obj, key);
  if (typeof v !== 'string') malformed(`claim ${key} must be a string`);
  if (!allowEmpty && v.length === 0) malformed(`claim ${key} must not be empty`);
  if (v.length > maxLength) malformed(`claim ${key} is longer than ${maxLength} characters`);
  return v;
}

function numericDate(value: unknown, key: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_NUMERIC_DATE) {
    malformed(`claim ${key} must be a NumericDate (whole seconds since the epoch)`);
  }
  return value;
}

function stringArray(obj: Record<string, unknown>, key: string, maxItems: number): string[] {
  const v = own(obj, key);
  if (!Array.isArray(v)) malformed(`claim ${key} must be an array of strings`);
  if (v.length > maxItems) malformed(`claim ${key} has more than ${maxItems} entries`);
  for (const item of v) {
    if (typeof item !== 'string' || item.length === 0 || item.length > 64) malformed(`claim ${key} must be an array of strings`);
  }
  return v as string[];
}

/**
 * Reads the claims of a payload whose signature already verified, checking that every required
 * claim is present and well-typed. It checks no values against configuration or the clock (the
 * verifier does). Role names this version does not know are dropped: roles only ever grant, so
 * ignoring one can only deny. An unknown scope is refused, because scope only ever restricts.
 */
export function claimsOfPayload(payload: unknown): SessionClaims & { notBefore?: Date } {
  if (!isObject(payload)) malformed('payload is not a JSON object');
  const issuer = str(payload, 'iss', 512);
  const audience = str(payload, 'aud', 512);
  const accountId = str(payload, 'sub', 256);
  const sessionId = str(payload, 'sid', 256);
  const iat = numericDate(own(payload, 'iat'), 'iat');
  const exp = numericDate(own(payload, 'exp'), 'exp');
  const authTime = numericDate(own(payload, 'auth_time'), 'auth_time');
  const nbfRaw = own(payload, 'nbf');
  const nbf = nbfRaw === undefined ? undefined : numericDate(nbfRaw, 'nbf');
  if (exp <= iat) malformed('claim exp must be after iat');
  if (authTime > iat) malformed('claim auth_time must not be after iat');
  const email = str(payload, 'email', 320, true);
  const displayName = own(payload, 'name') === undefined ? undefined : str(payload, 'name', 200, true);
  const roles = [...new Set(stringArray(payload, 'roles', 32).filter(isRole))];
  const amr = stringArray(payload, 'amr', 16);
  const cipRaw = str(payload, 'cip', 64);
  const pinnedIp = normalizeIp(cipRaw);
  if (pinnedIp === undefined) malformed('claim cip must be an IP address');
  const scope = own(payload, 'scope');
  if (scope !== 'full' && scope !== 'register-ip') malformed('claim scope must be "full" or "register-ip"');
  const envRaw = own(payload, 'env');
  if (!isObject(envRaw)) malformed('claim env must be a JSON object');
  const env: EnvironmentExpiry = {};
  const live = own(envRaw, 'live');
  const staging = own(envRaw, 'staging');
  if (live !== undefined) env.live = new Date(numericDate(live, 'env.live') * 1000);
  if (staging !== undefined) env.staging = new Date(numericDate(staging, 'env.staging') * 1000);
  const claims: SessionClaims & { notBefore?: Date } = {
    issuer,
    audience,
    accountId,
    sessionId,
    issuedAt: new Date(iat * 1000),
    expiresAt: new Date(exp * 1000),
    authTime: new Date(authTime * 1000),
    email,
    ...(displayName ? { displayName } : {}),
    roles,
    amr: [...amr],
    pinnedIp,
    scope,
    env,
  };
  if (nbf !== undefined) claims.notBefore = new Date(nbf * 1000);
  return claims;
}
