import { PermissionDeniedError } from '@gatehouse/core';
import { employeeOf, type Employee, type Role, type SessionClaims } from './claims.js';
import { sessionRejected } from './errors.js';
import type { RemoteSessionChecker } from './remote-session-checker.js';
import type { SessionTokenVerifier } from './verifier.js';

/**
 * What requireEmployee needs from a call: the service kit's RequestContext satisfies it. A
 * service that learns the client IP from a trusted proxy passes a context whose peerIp is that
 * IP, since the session is pinned to the employee's address.
 */
export interface SessionCallContext {
  bearerToken(): string | undefined;
  readonly peerIp: string;
}

/** What an RPC demands of the session. */
export interface RequireEmployeeOptions {
  /** `full` (default) refuses register-ip sessions; `any` is for RegisterDailyIp, WhoAmI and the like. */
  scope?: 'full' | 'any';
  /** The employee must hold at least one of these roles. Absent: any role, or none. */
  anyOfRoles?: readonly Role[];
  /** Confirms with identity that the session is not revoked, for critical actions. */
  revocationCheck?: Pick<RemoteSessionChecker, 'check'>;
  /**
   * A critical action (approval, role change, release, impersonation start, anomaly decision):
   * the verifier asks identity synchronously and fails closed (ServiceSessionVerifier).
   */
  critical?: boolean;
}

/**
 * Authenticates the employee behind a call and applies the RPC's function-level check (ASVS
 * 8.2.1): a session from the pinned IP, of the required scope, with one of the required roles.
 * Returns the full verified claims, for handlers that also need the session id or environment
 * expiries (audit events, Authorize). Object-level checks stay with the domain.
 */
export async function requireSession(
  ctx: SessionCallContext,
  verifier: SessionTokenVerifier,
  opts: RequireEmployeeOptions = {},
): Promise<SessionClaims> {
  if (opts.anyOfRoles !== undefined && opts.anyOfRoles.length === 0) {
    // An empty list would read as "nobody" to some and "anybody" to others: refuse to guess.
    throw new TypeError('requireEmployee: anyOfRoles must name at least one role (omit it to allow any role)');
  }
  const token = ctx.bearerToken();
  if (token === undefined || token === '') throw sessionRejected('missing');
  const claims = await verifier.verify(token, { presentedIp: ctx.peerIp, ...(opts.critical ? { critical: true } : {}) });
  if (opts.revocationCheck) await opts.revocationCheck.check(token, ctx.peerIp);
  if ((opts.scope ?? 'full') === 'full' && claims.scope !== 'full') {
    throw new PermissionDeniedError("a full session is required; this session may only register today's IP");
  }
  if (opts.anyOfRoles !== undefined && !opts.anyOfRoles.some((r) => claims.roles.includes(r))) {
    throw new PermissionDeniedError(`this action requires one of the roles ${opts.anyOfRoles.join(', ')}`);
  }
  return claims;
}

/**
 * The employee a call is made for, after {@link requireSession}'s checks: what an rpc handler
 * passes to the domain, so decisions use the originating subject and never the calling service
 * (ASVS 8.3.3).
 */
export async function requireEmployee(
  ctx: SessionCallContext,
  verifier: SessionTokenVerifier,
  opts: RequireEmployeeOptions = {},
): Promise<Employee> {
  return employeeOf(await requireSession(ctx, verifier, opts));
}
