import { FailedPreconditionError, InvalidArgumentError, NotFoundError, PermissionDeniedError } from '@gatehouse/core';
import { InvalidSessionError, signSessionToken, type SessionClaims, type SessionRejection } from '@gatehouse/session';
import type { PublishedKey, SigningKeyRing } from '@gatehouse/signing-keys';
import type { Account, Actor, Role } from '../accounts/account.js';
import { newId, wholeSeconds, type CallSource, type IdentityDeps } from '../identity-deps.js';
import type { IdentityTx } from '../ports.js';
import { authorize, sessionTimes, type AuthorizeAction, type AuthorizeDecision, type Environment } from './session-policy.js';
import { sessionStatus, type SessionRecord, type SessionScope, type SessionStatus } from './session-record.js';
import type { RevocationKind } from './revocation-log.js';

/** A session token (shown once to its holder, never stored) and its record. */
export interface IssuedSession {
  token: string;
  record: SessionRecord;
}

/**
 * What issuing a session needs from outside the store, got before its unit of work (the MongoDB
 * unit may run twice, so no RPC and no key creation inside it): the scope the allowlist gives the
 * IP, and the signing key.
 */
export interface IssuePrep {
  scope: SessionScope;
  key: Awaited<ReturnType<SigningKeyRing['signingKey']>>;
}

/** What a verified, unrevoked session is. */
export interface AuthenticatedSession {
  claims: SessionClaims;
  record: SessionRecord;
}

/** What an RPC demands of the session presented with it. */
export interface SessionDemand {
  /** `full` (default) refuses register-ip sessions. */
  scope?: 'full' | 'any';
  /** The holder must have one of these roles. */
  anyOfRoles?: readonly Role[];
}

/** VerifySession's answer: invalid is an answer, not an error. */
export type VerifyResult = { valid: true; claims: SessionClaims } | { valid: false; reason: SessionRejection };

const MAX_REASON = 500;

/** Margin kept past a revoked token's expiry before verifiers forget the revocation (clock leeway). */
const FORGET_MARGIN_MS = 5 * 60_000;

/** How long verifiers may cache GetSigningKeys: well below the publish-ahead time of a new key. */
export const KEYS_CACHE_MS = 5 * 60_000;

/**
 * Sessions (issue 4 item 6): issue after every factor passed, verify (signature, expiry,
 * revocation, pinned IP), refresh within the absolute lifetime, revoke, list, publish keys,
 * and Authorize (item 7). Tokens are Ed25519 JWS (the session lib's format); the record kept
 * here is what makes revocation immediate.
 */
export class SessionService {
  constructor(private readonly d: IdentityDeps) {}

  /**
   * Before the unit that issues a session: the scope (FULL only if the allowlist says the IP is
   * allowlisted, else register-ip, P7) and the signing key.
   */
  async prepareIssue(account: Account, source: CallSource): Promise<IssuePrep> {
    const allowlisted = await this.d.allowlist.isAllowlisted(source.ip, account.accountId);
    return { scope: allowlisted ? 'full' : 'register-ip', key: await this.d.keys.signingKey() };
  }

  /**
   * Issues the session of a completed sign-in, pinned to `source.ip`, in the caller's unit of
   * work: writes the record and stages the issue event, plus the new-IP alert for a first
   * session from an IP for an account whose roles reach LIVE.
   */
  async issueIn(tx: IdentityTx, account: Account, amr: string[], source: CallSource, prep: IssuePrep, sessionId?: string): Promise<IssuedSession> {
    const now = wholeSeconds(this.d.clock.now());
    const { scope, key } = prep;
    const times = sessionTimes(this.d.settings.lifetimes, now, now, account.roles, scope);
    const record: SessionRecord = {
      sessionId: sessionId ?? newId('ses'),
      accountId: account.accountId,
      email: account.email,
      ...(account.displayName ? { displayName: account.displayName } : {}),
      roles: [...account.roles],
      scope,
      amr,
      pinnedIp: source.ip,
      authTime: now,
      issuedAt: now,
      ...times,
      keyId: key.keyId,
      lastRefreshedAt: null,
      revokedAt: null,
      revokedBy: null,
      revokeReason: null,
      version: 1,
    };
    const newIp = !(await this.d.sessions.hasUsedIp(account.accountId, source.ip, tx));
    await this.d.sessions.create(tx, record);
    tx.faultPoint('session-record');
    const token = signSessionToken(this.claimsOf(record), key);
    const actor = employeeActor(account);
    tx.audit({
      action: 'session_issue',
      outcome: 'success',
      actor,
      subject: { kind: 'session', id: record.sessionId },
      sourceIp: source.ip,
      requestId: source.requestId,
      details: { scope, amr: amr.join(','), roles: account.roles.join(','), expires_at: record.expiresAt.toISOString() },
    });
    if (newIp && record.liveExpiresAt !== null) {
      tx.audit({
        action: 'sign_in_new_ip',
        outcome: 'success',
        actor,
        subject: { kind: 'session', id: record.sessionId },
        sourceIp: source.ip,
        environment: 'live',
        requestId: source.requestId,
        details: { roles: account.roles.join(',') },
      });
    }
    return { token, record };
  }

  /**
   * The session presented with a call: verified (signature, times, pinned IP), not revoked, of
   * the demanded scope and roles. UNAUTHENTICATED for a bad session, PERMISSION_DENIED for a
   * good one that may not do this.
   */
  async authenticate(token: string | undefined, presentedIp: string, demand: SessionDemand = {}): Promise<AuthenticatedSession> {
    if (token === undefined || token === '') throw new InvalidSessionError('missing', 'a session is required: send authorization: Bearer <token> (gatehouse login)');
    const claims = await this.d.verifier.verify(token, { presentedIp });
    const record = await this.d.sessions.get(claims.sessionId);
    if (!record || record.revokedAt !== null) throw new InvalidSessionError('revoked', 'session has been revoked; sign in again');
    if ((demand.scope ?? 'full') === 'full' && claims.scope !== 'full') {
      throw new PermissionDeniedError("a full session is required; this session may only register today's IP");
    }
    if (demand.anyOfRoles && !demand.anyOfRoles.some((r) => claims.roles.includes(r))) {
      throw new PermissionDeniedError(`this action requires one of the roles ${demand.anyOfRoles.join(', ')}`);
    }
    return { claims, record };
  }

  /** VerifySession: the answer for a token presented to a backend from `clientIp`. Refusals are audited. */
  async verify(token: string, clientIp: string, source: CallSource, caller: string): Promise<VerifyResult> {
    try {
      const { claims } = await this.authenticate(token, clientIp, { scope: 'any' });
      return { valid: true, claims };
    } catch (err) {
      if (!(err instanceof InvalidSessionError)) throw err;
      const reason = err.reason;
      await this.d.uow.run(async (tx) => {
        tx.audit({
          action: 'session_verify',
          outcome: 'denied',
          actor: { kind: 'service', id: caller },
          sourceIp: clientIp || source.ip,
          requestId: source.requestId,
          details: { reason },
        });
      }, 'verify-session-denied');
      return { valid: false, reason: err.reason };
    }
  }

  /**
   * RefreshSession: a new token with the inactivity expiry moved on (never past the absolute
   * one) and the scope re-evaluated against the allowlist. Refused for a locked or suspended
   * account (ASVS 6.3.3), and once the absolute lifetime is reached.
   */
  async refresh(token: string | undefined, source: CallSource): Promise<IssuedSession> {
    const { record } = await this.authenticate(token, source.ip, { scope: 'any' });
    const now = wholeSeconds(this.d.clock.now());
    if (record.absoluteExpiresAt.getTime() - now.getTime() < 1000) {
      throw new FailedPreconditionError('the session reached its absolute lifetime: sign in again');
    }
    const account = await this.d.accounts.byId(record.accountId);
    if (!account || account.state !== 'active') throw new PermissionDeniedError('the account is not active');
    await this.d.throttle.refuseIfLocked(record.accountId);
    const allowlisted = await this.d.allowlist.isAllowlisted(record.pinnedIp, record.accountId);
    const scope = allowlisted ? 'full' : 'register-ip';
    const key = await this.d.keys.signingKey();
    const next: SessionRecord = {
      ...record,
      scope,
      issuedAt: now,
      ...sessionTimes(this.d.settings.lifetimes, record.authTime, now, record.roles, scope),
      keyId: key.keyId,
      lastRefreshedAt: now,
      version: record.version + 1,
    };
    await this.d.uow.run(async (tx) => {
      // A lost compare-and-set throws: the unit rolls back and nothing is recorded as refreshed.
      if (!(await this.d.sessions.update(tx, next))) throw new InvalidSessionError('revoked', 'session has been revoked or refreshed concurrently; sign in again');
      tx.faultPoint('session-update');
      tx.audit({
        action: 'session_refresh',
        outcome: 'success',
        actor: { kind: 'employee', id: record.accountId, displayName: record.email },
        subject: { kind: 'session', id: record.sessionId },
        sourceIp: source.ip,
        requestId: source.requestId,
        details: { scope, expires_at: next.expiresAt.toISOString() },
      });
    }, 'refresh-session');
    return { token: signSessionToken(this.claimsOf(next), key), record: next };
  }

  /**
   * RevokeSession: one session or all of an account's. Employees revoke their own; the officer
   * anyone's. Someone else's session is NOT_FOUND to a non-officer (existence not revealed).
   */
  async revoke(by: AuthenticatedSession, target: { sessionId: string } | { accountId: string }, reason: string, source: CallSource): Promise<number> {
    const why = checkReason(reason, false) || 'revoked by request';
    const officer = by.claims.roles.includes('security_officer');
    const actor: Actor = { accountId: by.claims.accountId, email: by.claims.email };
    const now = this.d.clock.now();
    if ('sessionId' in target) {
      const rec = await this.d.sessions.get(target.sessionId);
      if (!rec || (!officer && rec.accountId !== by.claims.accountId)) throw new NotFoundError('no such session');
    } else if (!officer && target.accountId !== by.claims.accountId) {
      throw new NotFoundError('no such account');
    }
    // The log entry, the records and the event in one unit; the entry is written first (fail closed).
    const count = await this.d.uow.run(async (tx) => {
      let n: number;
      let subjectId: string;
      if ('sessionId' in target) {
        const rec = await this.d.sessions.get(target.sessionId, tx);
        if (!rec) throw new NotFoundError('no such session');
        if (rec.revokedAt === null) await this.publishRevocation(tx, 'session', rec.accountId, now, rec);
        tx.faultPoint('revocation-log');
        n = (await this.d.sessions.revoke(tx, rec.sessionId, now, actor, why)) ? 1 : 0;
        subjectId = rec.sessionId;
      } else {
        await this.publishRevocation(tx, 'account_sessions', target.accountId, now);
        tx.faultPoint('revocation-log');
        n = await this.d.sessions.revokeAllForAccount(tx, target.accountId, now, actor, why);
        subjectId = target.accountId;
      }
      tx.faultPoint('session-revoke');
      tx.audit({
        action: 'session_revoke',
        outcome: 'success',
        actor: { kind: 'employee', id: by.claims.accountId, displayName: by.claims.email },
        subject: { kind: 'sessionId' in target ? 'session' : 'account', id: subjectId },
        sourceIp: source.ip,
        requestId: source.requestId,
        details: { revoked: String(n), reason: why },
      });
      return n;
    }, 'revoke-session');
    this.revocationsCommitted();
    return count;
  }

  /**
   * Revokes all of an account's sessions as part of an officer's action (suspend, roles, OTP
   * reset) or a lockout (`by` null: identity itself). The revocation is published first, so
   * every other service refuses the sessions within the WatchRevocations bound; `kind` tells
   * impersonation whether to revoke the account's grants too (suspension, lock). Runs in the
   * caller's unit of work, with the change that causes it; call {@link revocationsCommitted}
   * once that unit committed.
   */
  async revokeAllFor(tx: IdentityTx, accountId: string, by: Actor | null, reason: string, kind: Exclude<RevocationKind, 'session'> = 'account_sessions'): Promise<number> {
    const now = this.d.clock.now();
    await this.publishRevocation(tx, kind, accountId, now);
    tx.faultPoint('revocation-log');
    const n = await this.d.sessions.revokeAllForAccount(tx, accountId, now, by, reason);
    tx.faultPoint('sessions-revoke');
    return n;
  }

  /** After a unit that appended revocations committed: this replica's streams push them at once (others poll). */
  revocationsCommitted(): void {
    this.d.revocationHub?.nudge();
  }

  /**
   * Appends to the revocation log before the records change: if the record write then fails,
   * other services refuse a session identity would still accept, never the reverse (fail closed).
   */
  private async publishRevocation(tx: IdentityTx, kind: RevocationKind, accountId: string, at: Date, session?: SessionRecord): Promise<void> {
    const lifetime = Math.max(this.d.settings.lifetimes.stagingAbsoluteMs, 2 * 3600_000);
    const forgetAfter = session ? session.absoluteExpiresAt.getTime() + FORGET_MARGIN_MS : at.getTime() + lifetime + FORGET_MARGIN_MS;
    await this.d.revocations.append(tx, { kind, sessionId: session?.sessionId ?? null, accountId, revokedAt: at, forgetAfter: new Date(forgetAfter) });
  }

  /** ListSessions: own sessions, or anyone's for the officer. */
  async list(
    by: AuthenticatedSession,
    filter: { accountId?: string | undefined; statuses: SessionStatus[] },
    page: { after?: { authTime: Date; sessionId: string } | undefined; limit: number },
  ): Promise<Array<SessionRecord & { status: SessionStatus }>> {
    const officer = by.claims.roles.includes('security_officer');
    const accountId = filter.accountId ?? (officer ? undefined : by.claims.accountId);
    if (!officer && accountId !== by.claims.accountId) throw new PermissionDeniedError("only the security officer may list another account's sessions");
    const now = this.d.clock.now();
    const rows = await this.d.sessions.list({ ...(accountId !== undefined ? { accountId } : {}), statuses: filter.statuses, now }, page);
    return rows.map((r) => ({ ...r, status: sessionStatus(r, now) }));
  }

  /** GetSigningKeys. */
  async signingKeys(): Promise<{ issuer: string; audience: string; keys: PublishedKey[]; cacheForMs: number }> {
    return { issuer: this.d.settings.issuer, audience: this.d.settings.audience, keys: await this.d.keys.published(), cacheForMs: KEYS_CACHE_MS };
  }

  /**
   * Authorize (item 7): the decision for the presented session, audited whatever it is. The
   * session must verify from `clientIp` (or the caller's IP); a refusal of the session itself
   * is UNAUTHENTICATED, a refusal of the action an answer.
   */
  async authorize(
    token: string | undefined,
    clientIp: string,
    env: Environment,
    action: AuthorizeAction,
    source: CallSource,
    caller: string,
  ): Promise<{ decision: AuthorizeDecision; session: AuthenticatedSession }> {
    const session = await this.authenticate(token, clientIp, { scope: 'any' });
    const c = session.claims;
    // The token's own claims decide: a refreshed record never widens what an older token reaches.
    const effective = authorize(
      { roles: c.roles, scope: c.scope, liveExpiresAt: c.env.live ?? null, stagingExpiresAt: c.env.staging ?? null },
      env,
      action,
      this.d.clock.now(),
    );
    await this.d.uow.run(async (tx) => {
      tx.audit({
        action: 'authorize',
        outcome: effective.allow ? 'success' : 'denied',
        actor: { kind: 'employee', id: session.claims.accountId, displayName: session.claims.email },
        subject: { kind: 'session', id: session.claims.sessionId },
        sourceIp: clientIp,
        environment: env,
        requestId: source.requestId,
        details: { action, reason: effective.reason, roles: session.claims.roles.join(','), caller },
      });
    }, 'authorize');
    return { decision: effective, session };
  }

  /** The claims a record's current token carries. */
  claimsOf(r: SessionRecord): SessionClaims {
    return {
      issuer: this.d.settings.issuer,
      audience: this.d.settings.audience,
      accountId: r.accountId,
      sessionId: r.sessionId,
      issuedAt: r.issuedAt,
      expiresAt: r.expiresAt,
      authTime: r.authTime,
      email: r.email,
      ...(r.displayName ? { displayName: r.displayName } : {}),
      roles: [...r.roles],
      amr: [...r.amr],
      pinnedIp: r.pinnedIp,
      scope: r.scope,
      env: {
        ...(r.liveExpiresAt ? { live: r.liveExpiresAt } : {}),
        ...(r.stagingExpiresAt ? { staging: r.stagingExpiresAt } : {}),
      },
    };
  }
}

/** The audit actor of an employee. */
export function employeeActor(a: { accountId: string; email: string }): { kind: 'employee'; id: string; displayName: string } {
  return { kind: 'employee', id: a.accountId, displayName: a.email };
}

/** A free-text reason: required or not, at most 500 characters, no control characters. */
export function checkReason(reason: string, required: boolean, field = 'reason'): string {
  const r = reason.trim();
  if (required && r.length === 0) throw new InvalidArgumentError(field, 'is required');
  if (r.length > MAX_REASON) throw new InvalidArgumentError(field, `must be at most ${MAX_REASON} characters`);
  if (/\p{Cc}/u.test(r)) throw new InvalidArgumentError(field, 'must not contain control characters');
  return r;
}
