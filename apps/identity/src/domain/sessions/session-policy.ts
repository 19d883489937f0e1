import type { Role } from '../accounts/account.js';
import { reachesLive } from '../ports.js';
import type { SessionScope } from './session-record.js';

/**
 * Session lifetimes per environment (REQUIREMENTS "Sessions": inactivity ≤ 1 h, absolute ≤ 24 h,
 * shorter for LIVE). The token's own `exp` follows the STAGING limits; LIVE access ends earlier,
 * carried in the token's `env.live` claim.
 */
export interface SessionLifetimes {
  stagingIdleMs: number;
  stagingAbsoluteMs: number;
  liveIdleMs: number;
  liveAbsoluteMs: number;
}

/** Defaults: STAGING 60 min idle / 12 h absolute; LIVE 15 min idle / 4 h absolute. */
export const DEFAULT_SESSION_LIFETIMES: Readonly<SessionLifetimes> = Object.freeze({
  stagingIdleMs: 60 * 60_000,
  stagingAbsoluteMs: 12 * 3600_000,
  liveIdleMs: 15 * 60_000,
  liveAbsoluteMs: 4 * 3600_000,
});

/** Refuses lifetimes that would break the requirements, at start-up. */
export function validateLifetimes(l: SessionLifetimes): void {
  const ok = (v: number) => Number.isSafeInteger(v) && v >= 60_000;
  if (![l.stagingIdleMs, l.stagingAbsoluteMs, l.liveIdleMs, l.liveAbsoluteMs].every(ok)) throw new RangeError('session lifetimes must be whole milliseconds of at least one minute');
  if (l.stagingIdleMs > 3600_000) throw new RangeError('the STAGING inactivity limit must be at most 1 h');
  if (l.stagingAbsoluteMs > 24 * 3600_000) throw new RangeError('the STAGING absolute lifetime must be at most 24 h');
  if (l.liveIdleMs > l.stagingIdleMs || l.liveAbsoluteMs > l.stagingAbsoluteMs) throw new RangeError('LIVE lifetimes must not exceed the STAGING ones');
  if (l.stagingIdleMs > l.stagingAbsoluteMs || l.liveIdleMs > l.liveAbsoluteMs) throw new RangeError('an inactivity limit must not exceed its absolute lifetime');
}

/** The times of a token issued (or refreshed) at `now` for a session that began at `authTime`. */
export interface SessionTimes {
  expiresAt: Date;
  absoluteExpiresAt: Date;
  liveExpiresAt: Date | null;
  stagingExpiresAt: Date | null;
}

/**
 * Lifetimes of a token issued at `now`. A register-ip session reaches no environment; LIVE
 * only for roles that reach it (P1). Every expiry is capped by its absolute lifetime.
 */
export function sessionTimes(l: SessionLifetimes, authTime: Date, now: Date, roles: readonly Role[], scope: SessionScope): SessionTimes {
  const t = now.getTime();
  const a = authTime.getTime();
  const absolute = a + l.stagingAbsoluteMs;
  const expires = Math.min(t + l.stagingIdleMs, absolute);
  const liveEnd = Math.min(t + l.liveIdleMs, a + l.liveAbsoluteMs, expires);
  const full = scope === 'full';
  return {
    expiresAt: new Date(expires),
    absoluteExpiresAt: new Date(absolute),
    stagingExpiresAt: full && reachesStaging(roles) ? new Date(expires) : null,
    liveExpiresAt: full && reachesLive(roles) && liveEnd > t ? new Date(liveEnd) : null,
  };
}

/** The environments Authorize decides on. */
export type Environment = 'live' | 'staging';

/** The actions Authorize decides on (identity.v1.AuthorizeAction). */
export type AuthorizeAction = 'read_data' | 'write_data' | 'administer_database' | 'view_monitoring' | 'deploy';

/** Why Authorize decided as it did (identity.v1.AuthorizeReason). */
export type AuthorizeReason = 'role_permits' | 'role_not_permitted' | 'scope_register_ip_only' | 'environment_access_expired';

/** An Authorize answer: a refusal is an answer, not an error. */
export interface AuthorizeDecision {
  allow: boolean;
  reason: AuthorizeReason;
  /** Until when an ALLOW holds (the environment expiry of the session). */
  validUntil: Date | null;
  /** For the person refused: what the rule is. */
  message: string;
}

/** What the session says, for the decision. */
export interface AuthorizeSubject {
  roles: readonly Role[];
  scope: SessionScope;
  liveExpiresAt: Date | null;
  stagingExpiresAt: Date | null;
}

/**
 * Who may do what where (P1, P2, P4), as the contract's AuthorizeAction defaults state them.
 * LIVE: manager and team_lead only, for every action. STAGING: reading data and monitoring for
 * every working role; writing, administering the database and deploying only for developer,
 * team_lead and manager (least tooling, P4). security_officer is in no list: the officer
 * governs access and alone reaches neither environment (issue 13 item 4); an officer who also
 * holds a working role reaches what that role reaches.
 */
export const STAGING_ACTION_ROLES: Readonly<Record<AuthorizeAction, readonly Role[]>> = Object.freeze({
  read_data: ['manager', 'team_lead', 'developer', 'support'],
  write_data: ['manager', 'team_lead', 'developer'],
  view_monitoring: ['manager', 'team_lead', 'developer', 'support'],
  administer_database: ['manager', 'team_lead', 'developer'],
  deploy: ['manager', 'team_lead', 'developer'],
});

/** Whether any of the roles may do anything on STAGING (security_officer alone may not). */
export function reachesStaging(roles: readonly Role[]): boolean {
  return Object.values(STAGING_ACTION_ROLES).some((allowed) => allowed.some((r) => roles.includes(r)));
}

/** The decision of Authorize(session, environment, action) at `now`. Pure. */
export function authorize(s: AuthorizeSubject, env: Environment, action: AuthorizeAction, now: Date): AuthorizeDecision {
  const deny = (reason: AuthorizeReason, message: string): AuthorizeDecision => ({ allow: false, reason, validUntil: null, message });
  if (s.scope !== 'full') {
    return deny('scope_register_ip_only', "this session was issued from an IP that is not on the allowlist: it may only register today's IP (gatehouse ip register), then refresh");
  }
  const held = s.roles.length === 0 ? 'no role' : `the roles ${s.roles.join(', ')}`;
  if (env === 'live') {
    if (!reachesLive(s.roles)) {
      return deny('role_not_permitted', `only manager and team_lead reach LIVE (policy P1); this session holds ${held}`);
    }
  } else if (!STAGING_ACTION_ROLES[action].some((r) => s.roles.includes(r))) {
    return deny('role_not_permitted', `${action.replace('_', ' ')} on STAGING needs one of ${STAGING_ACTION_ROLES[action].join(', ')}; this session holds ${held}`);
  }
  const until = env === 'live' ? s.liveExpiresAt : s.stagingExpiresAt;
  if (until === null || until.getTime() <= now.getTime()) {
    return deny('environment_access_expired', `this session's ${env.toUpperCase()} access has expired: refresh the session or sign in again`);
  }
  return { allow: true, reason: 'role_permits', validUntil: until, message: `${env.toUpperCase()} ${action.replace('_', ' ')} allowed` };
}
