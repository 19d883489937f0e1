import { randomBytes } from 'node:crypto';
import type { AuditedTransaction, AuditedUnitOfWork, AuditSink, DomainAuditEvent, EventActor } from '@gatehouse/audit-client';
import { AbortedError, AlreadyExistsError, FailedPreconditionError, freeText, InvalidArgumentError, isDomainError, NotFoundError, PermissionDeniedError, UnavailableError, type Clock } from '@gatehouse/core';
import { checkImpersonationToken, signImpersonationToken, VerifiedTokenCache, type ImpersonationClaims, type TokenInvalidReason, type TokenKeys } from './impersonation-token.js';
import {
  IMPERSONATOR_ROLES,
  type AccessOperation,
  type AccessReport,
  type AccessedRecords,
  type ActivePage,
  type Actor,
  type AnomalyFilter,
  type AnomalyRecord,
  type AnomalyResolution,
  type BurstEntry,
  type BurstRule,
  type BurstWindow,
  type GrantRecord,
  type GrantState,
  type ImpersonationStores,
  type LockRecord,
  type ReasonCode,
  type Staff,
} from './model.js';
import {
  BURST_RULE_ID,
  checkAccessedRecords,
  checkAccountId,
  checkAnomalyId,
  checkDomain,
  checkGrantId,
  checkJustification,
  checkOpaqueId,
  checkReportId,
  checkTicket,
  evaluateBurst,
  GRANT_ID_RE,
  grantDuration,
  inWindow,
  MAX_ANOMALY_JUSTIFICATION,
  MAX_JUSTIFICATION,
  MAX_NOTE,
  MAX_TICKETS,
} from './rules.js';

/** What the impersonation service audits (ACTION_IMPERSONATION_<ACTION>). */
export type ImpersonationAction =
  | 'start'
  | 'refused'
  | 'end'
  | 'expire'
  | 'revoke'
  | 'token_verify'
  | 'record_access'
  | 'anomaly'
  | 'anomaly_justify'
  | 'anomaly_resolve'
  | 'lock'
  | 'unlock'
  | 'access_log_read'
  | 'signing_key_rotate';

/** The employee behind a verified FULL session. */
export interface SessionEmployee {
  accountId: string;
  email: string;
  displayName?: string | undefined;
  roles: readonly string[];
  sessionId: string;
}

/** Where a call comes from: the client IP, the certificate identity (`kind:name`) and the request id. */
export interface Caller {
  ip: string;
  identity: string;
  requestId: string;
}

/** Is this IP on the allowlist for this employee (P7)? Throws UnavailableError when the allowlist cannot answer. */
export interface AllowlistPort {
  isAllowlisted(ip: string, accountId: string): Promise<boolean>;
}

/** Settings, validated by the wiring. */
export interface ImpersonationSettings {
  issuer: string;
  burst: { distinctTargets: number; windowMs: number };
  minJustification: number;
  defaultDurationMs: number;
  maxDurationMs: number;
  /** Clock skew tolerated on a token's `iat` and a report's `accessed_at`. */
  leewayMs: number;
}

/** A new grant and its token (returned once). */
export interface StartedGrant {
  grant: GrantRecord;
  token: string;
}

/** What VerifyImpersonationToken answers. */
export type Verification = { valid: true; claims: ImpersonationClaims } | { valid: false; reason: TokenInvalidReason };

/** Operations a backend may ask about; the last four are never allowed under impersonation. */
export type Operation = 'unspecified' | 'read_data' | 'write_data' | 'change_credentials' | 'change_roles' | 'release_secrets' | 'start_impersonation';
const FORBIDDEN_OPERATIONS: ReadonlySet<Operation> = new Set(['change_credentials', 'change_roles', 'release_secrets', 'start_impersonation']);

/** An employee's standing (ImpersonationStatus). */
export interface ImpersonationStanding {
  accountId: string;
  /** Name, e-mail and roles as last recorded on one of the employee's grants or anomalies, when there is one. */
  employee: Staff | null;
  locked: boolean;
  lockedAt: Date | null;
  lockingAnomalyId: string | null;
  blockedDomains: Array<{ customerDomain: string; anomalyId: string }>;
  activeGrantCount: number;
}

/** One AccessLogEntry: a grant with what the backends reported under it. */
export interface AccessLogEntry {
  grant: GrantRecord;
  state: GrantState;
  touched: Array<{ resourceType: string; operation: AccessOperation; count: number; recordIds: string[]; truncated: boolean }>;
}

const SEES_EVERYONE = ['security_officer', 'manager'];
const OFFICER = 'security_officer';
const MAX_CAS_ATTEMPTS = 64;
const EXPIRY_BATCH = 200;
/** How long after expiry a grant whose expiry event is missing counts as left behind by a crash. */
const UNREPORTED_GRACE_MS = 5 * 60_000;
const ACCESS_LOG_IDS = 1000;

type Event = DomainAuditEvent<ImpersonationAction>;
type Tx = AuditedTransaction<ImpersonationAction>;

/**
 * A compare-and-set inside a unit lost although the unit read the record in its own transaction
 * (MongoDB: another transaction committed in between). The unit rolls back and runs again.
 */
class Contended extends Error {}

/** An employee's action as an audit event: the actor, source IP and request id come from the call. */
const byEmployee = (who: { accountId: string; email: string }, caller: Caller, e: Omit<Event, 'actor' | 'outcome' | 'sourceIp' | 'requestId'> & { outcome?: Event['outcome'] }): Event => ({
  outcome: 'success',
  ...e,
  actor: employeeActor(who),
  sourceIp: caller.ip,
  requestId: caller.requestId,
});

const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url')}`;
const actorOf = (e: { accountId: string; email: string }): Actor => ({ accountId: e.accountId, email: e.email });
const employeeActor = (e: { accountId: string; email: string }): EventActor => ({ kind: 'employee', id: e.accountId, displayName: e.email });

/** The state a reader sees: an ACTIVE grant past its expiry is EXPIRED even before the expiry job ran. */
export function effectiveState(g: GrantRecord, now: Date): GrantState {
  return g.state === 'active' && g.expiresAt.getTime() <= now.getTime() ? 'expired' : g.state;
}

/**
 * ImpersonationService's domain (P9, P11; issue 7). A grant is justified (reason, text, ticket),
 * time-boxed and signed; the burst rule is decided on one per-(employee, domain) window written
 * back with a compare-and-set, so concurrent starts on any replica are decided in turn; starting
 * is critical (the token goes out only once audit confirmed). Backends verify tokens (revocation
 * visible at once: every verification reads the grant) and report what they touched, which the
 * customer sees in the domain's access log.
 */
export class Impersonation {
  private readonly rule: BurstRule;
  /** Signatures already checked (see VerifiedTokenCache); grant state is read on every verification regardless. */
  private readonly verified = new VerifiedTokenCache();

  constructor(
    private readonly d: ImpersonationStores & {
      keys: TokenKeys;
      allowlist: AllowlistPort;
      /** Every state change runs in one unit with its audit events (issue 14). */
      uow: AuditedUnitOfWork<ImpersonationAction>;
      /** Confirms a critical action's intent before it happens (sent outside any unit). */
      audit: AuditSink<ImpersonationAction>;
      clock: Clock;
      settings: ImpersonationSettings;
      /** Background failures (revocations pushed by identity), for the service's log. */
      onError?: (err: unknown, what: string) => void;
    },
  ) {
    this.rule = { ruleId: BURST_RULE_ID, distinctTargets: d.settings.burst.distinctTargets, windowMs: d.settings.burst.windowMs };
  }

  // ---- grants --------------------------------------------------------------------------------

  /** StartImpersonation: checks, burst rule, grant, confirmed audit, token. */
  async start(
    who: SessionEmployee,
    req: { targetUserId: string; customerDomain: string; reason: ReasonCode | undefined; justification: string; ticketRef: string; durationMs: number | undefined },
    caller: Caller,
  ): Promise<StartedGrant> {
    const s = this.d.settings;
    const targetUserId = checkOpaqueId(req.targetUserId, 'target_user_id');
    const customerDomain = checkDomain(req.customerDomain);
    if (!req.reason) throw new InvalidArgumentError('reason', 'is required: CUSTOMER_SUPPORT_CASE, BUG_INVESTIGATION or INCIDENT_RESPONSE');
    const justification = checkJustification(req.justification, s.minJustification, MAX_JUSTIFICATION);
    const ticketRef = checkTicket(req.ticketRef);
    const durationMs = grantDuration(req.durationMs, s.defaultDurationMs, s.maxDurationMs);
    const reason = req.reason;

    const refuse = async (why: string, err: Error, extra: Record<string, string> = {}): Promise<never> => {
      await this.d.uow.run(async (tx) => tx.audit(this.refusedEvent(who, customerDomain, targetUserId, why, caller, extra)), 'refuse');
      throw err;
    };
    const refuseLocked = (lock: LockRecord): Promise<never> =>
      refuse(
        'locked',
        new PermissionDeniedError(`you are locked out of impersonation: anomaly ${lock.anomalyId ?? '?'} was rejected; only the security officer can unlock you`),
        lock.anomalyId ? { anomaly_id: lock.anomalyId } : {},
      );
    const role = IMPERSONATOR_ROLES.find((r) => who.roles.includes(r));
    if (!role) {
      return refuse('role', new PermissionDeniedError('impersonation requires the support or developer role (P9)'));
    }
    const lock = await this.d.locks.get(who.accountId);
    if (lock?.locked) return refuseLocked(lock);
    if (!(await this.d.allowlist.isAllowlisted(caller.ip, who.accountId))) {
      return refuse('ip_not_allowlisted', new PermissionDeniedError(`impersonation requires an allowlisted IP; ${caller.ip} is not on the allowlist`));
    }

    const staff: Staff = { accountId: who.accountId, email: who.email, displayName: displayNameOf(who), roles: [...who.roles] };
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const now = this.d.clock.now();
      // A first look outside any unit, so that the audit round trip of a start is not made inside
      // one; every unit below decides again on the window as it reads it in its own transaction.
      const seen = this.verdictOn(await this.d.bursts.get(who.accountId, customerDomain), who.accountId, customerDomain, now);
      if (seen.window.blockingAnomalyId) {
        const blockingId = seen.window.blockingAnomalyId;
        const blocking = await this.d.anomalies.get(blockingId);
        return refuse(
          'blocked',
          new FailedPreconditionError(
            `rule ${BURST_RULE_ID}: impersonation in ${customerDomain} is blocked by anomaly ${blockingId} (${blocking?.state ?? 'open'}) until the security officer resolves it` +
              (blocking?.state === 'justified' ? '' : `; justify it first: gatehouse anomalies justify ${blockingId}`),
          ),
          { anomaly_id: blockingId },
        );
      }
      if (seen.verdict.fires) {
        const anomaly = await this.openAnomaly(who, staff, customerDomain, targetUserId, seen.window.version, now, caller);
        if (!anomaly) continue; // the window changed meanwhile: decide again
        throw new FailedPreconditionError(
          `rule ${BURST_RULE_ID} fired: you already impersonated ${anomaly.targetUserIds.length} distinct users of ${customerDomain} within ${Math.round(this.rule.windowMs / 60_000)} minutes ` +
            `(threshold ${this.rule.distinctTargets}); anomaly ${anomaly.anomalyId} is open and blocks impersonation in ${customerDomain} until you justify it ` +
            `(gatehouse anomalies justify ${anomaly.anomalyId}) and the security officer resolves it`,
        );
      }

      const grant: GrantRecord = {
        grantId: newId('gr'),
        employee: staff,
        role,
        targetUserId,
        customerDomain,
        reason,
        justification,
        ticketRef,
        startedAt: now,
        expiresAt: new Date(now.getTime() + durationMs),
        state: 'active',
        endedAt: null,
        revokedBy: null,
        revokeReason: null,
        sessionId: who.sessionId,
        sourceIp: caller.ip,
        tokenId: '',
        expiryReported: false,
      };
      const { token, tokenId } = signImpersonationToken(
        {
          issuer: this.d.settings.issuer,
          grantId: grant.grantId,
          targetUserId,
          customerDomain,
          actor: { accountId: staff.accountId, email: staff.email, displayName: staff.displayName },
          reason,
          issuedAt: now,
          expiresAt: grant.expiresAt,
        },
        await this.d.keys.signingKey(),
      );
      grant.tokenId = tokenId;
      const started = byEmployee(who, caller, {
        action: 'start',
        subject: { kind: 'impersonation_grant', id: grant.grantId },
        customerDomain,
        details: {
          reason,
          role,
          ticket_ref: ticketRef.slice(0, 200),
          duration_minutes: String(Math.round(durationMs / 60_000)),
          expires_at: grant.expiresAt.toISOString(),
        },
        hashedDetails: { customer_user_id: targetUserId },
      });
      // The intent is confirmed before anything is written and before the token leaves (issue 13
      // item 6). Fail closed: unconfirmed, nothing is written and no token leaves.
      let intentId: string;
      try {
        ({ intentId } = await this.d.audit.confirm(started));
      } catch (err) {
        // An event audit refuses (say, a ticket reference that looks like a secret) names its field.
        throw isDomainError(err) ? err : new UnavailableError('audit could not confirm the start; no grant was made');
      }
      // One unit: the window's new entry, the grant and the outcome naming its intent.
      const outcome = await this.contended(() =>
        this.d.uow.run(async (tx) => {
          const l = await this.d.locks.get(who.accountId, tx);
          if (l?.locked) return l;
          const { window, live, verdict } = this.verdictOn(await this.d.bursts.get(who.accountId, customerDomain, tx), who.accountId, customerDomain, now);
          if (window.blockingAnomalyId || verdict.fires) return 'decide-again';
          if (!(await this.d.bursts.put(tx, { ...window, version: window.version + 1, entries: [...live, { grantId: grant.grantId, targetUserId, startedAt: now }] }))) throw new Contended();
          tx.faultPoint('window');
          await this.d.grants.create(tx, grant);
          tx.faultPoint('grant');
          tx.audit({ ...started, intentId });
          return 'started';
        }, 'start'),
      );
      if (outcome === 'started') return { grant, token };
      // Not performed: the confirmed intent gets its outcome, then the start is decided again.
      await this.d.uow.run(async (tx) => tx.audit({ ...started, outcome: 'failure', intentId, details: { ...started.details, error: 'not performed: the burst window or the lock changed meanwhile' } }), 'refuse');
      if (outcome !== 'decide-again') return refuseLocked(outcome);
    }
    throw new AbortedError('too many concurrent impersonation starts for this domain; retry');
  }

  /** The window as stored (empty when absent) and the burst rule's verdict on it at `now`. */
  private verdictOn(stored: BurstWindow | undefined, accountId: string, customerDomain: string, now: Date): { window: BurstWindow; live: BurstEntry[]; verdict: ReturnType<typeof evaluateBurst> } {
    const window: BurstWindow = stored ?? { accountId, customerDomain, version: 0, entries: [], blockingAnomalyId: null };
    const live = inWindow(window.entries, now, this.rule.windowMs);
    return { window, live, verdict: evaluateBurst(live, this.rule) };
  }

  /**
   * The burst rule fired: the anomaly, the window pointing at it and both events, in one unit,
   * provided the window is still the one decided on (else undefined: decide again).
   */
  private async openAnomaly(who: SessionEmployee, staff: Staff, customerDomain: string, targetUserId: string, seenVersion: number, now: Date, caller: Caller): Promise<AnomalyRecord | undefined> {
    return this.contended(() =>
      this.d.uow.run(async (tx) => {
        const { window, live, verdict } = this.verdictOn(await this.d.bursts.get(who.accountId, customerDomain, tx), who.accountId, customerDomain, now);
        if (window.version !== seenVersion) return undefined;
        const anomaly: AnomalyRecord = {
          anomalyId: newId('an'),
          employee: staff,
          customerDomain,
          rule: { ...this.rule },
          targetUserIds: verdict.targets,
          grantIds: verdict.grantIds,
          refusedTargetUserId: targetUserId,
          openedAt: now,
          state: 'open',
          justification: '',
          ticketRefs: [],
          justifiedAt: null,
          resolution: null,
          resolutionNote: '',
          resolvedBy: null,
          resolvedAt: null,
          version: 1,
        };
        await this.d.anomalies.create(tx, anomaly);
        tx.faultPoint('anomaly');
        if (!(await this.d.bursts.put(tx, { ...window, version: window.version + 1, entries: live, blockingAnomalyId: anomaly.anomalyId }))) throw new Contended();
        tx.faultPoint('window');
        tx.audit(
          byEmployee(who, caller, {
            action: 'anomaly',
            subject: { kind: 'anomaly', id: anomaly.anomalyId },
            customerDomain,
            details: {
              rule: BURST_RULE_ID,
              distinct_targets: String(verdict.targets.length),
              threshold: String(this.rule.distinctTargets),
              window_minutes: String(Math.round(this.rule.windowMs / 60_000)),
              grant_ids: verdict.grantIds.join(',').slice(0, 500),
            },
          }),
          this.refusedEvent(who, customerDomain, targetUserId, 'burst', caller, { anomaly_id: anomaly.anomalyId }),
        );
        return anomaly;
      }, 'open-anomaly'),
    );
  }

  /** Runs a unit again while one of its compare-and-sets lost to a concurrent transaction. */
  private async contended<T>(unit: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await unit();
      } catch (err) {
        if (!(err instanceof Contended) || i + 1 >= MAX_CAS_ATTEMPTS) throw err instanceof Contended ? new AbortedError('too many concurrent changes of this record; retry') : err;
      }
    }
  }

  /** EndImpersonation: the employee's own ACTIVE grant. */
  async end(who: SessionEmployee, grantId: string, caller: Caller): Promise<GrantRecord> {
    checkGrantId(grantId);
    const g = await this.d.grants.get(grantId);
    if (!g || g.employee.accountId !== who.accountId) throw new NotFoundError(`grant ${grantId} not found among your grants`);
    return this.d.uow.run(async (tx) => {
      const closed = await this.d.grants.close(tx, grantId, this.d.clock.now(), { state: 'ended' });
      if (!closed) throw new FailedPreconditionError(`grant ${grantId} is ${effectiveState(g, this.d.clock.now())}, not active`);
      tx.audit({ ...this.grantEvent('end', closed, caller), actor: employeeActor(who) });
      return closed;
    }, 'end');
  }

  /** RevokeImpersonation (officer): effective at once, since every verification reads the grant. */
  async revoke(who: SessionEmployee, grantId: string, reason: string, caller: Caller): Promise<GrantRecord> {
    this.requireOfficer(who, 'revoke impersonation grants');
    checkGrantId(grantId);
    const why = freeText(reason, 'reason', { required: true, max: MAX_NOTE });
    const g = await this.d.grants.get(grantId);
    if (!g) throw new NotFoundError(`grant ${grantId} not found`);
    return this.d.uow.run(async (tx) => {
      const closed = await this.d.grants.close(tx, grantId, this.d.clock.now(), { state: 'revoked', revokedBy: actorOf(who), revokeReason: why });
      if (!closed) throw new FailedPreconditionError(`grant ${grantId} is ${effectiveState(g, this.d.clock.now())}, not active`);
      const event = this.grantEvent('revoke', closed, caller);
      tx.audit({ ...event, actor: employeeActor(who), details: { ...event.details, by: 'officer' } });
      return closed;
    }, 'revoke');
  }

  /**
   * Identity locked or suspended an account (pushed by its revocation feed): every grant the
   * account started up to that instant is revoked at once, as the policy revokes its sessions.
   * Idempotent: a replayed revocation finds no active grant left. Failures are reported, and
   * the grant's expiry (at most 60 minutes) still bounds it.
   */
  onRevocation(r: { kind: string; accountId: string; revokedAt: Date }): void {
    if (r.kind !== 'account_locked' && r.kind !== 'account_suspended') return;
    const why = r.kind === 'account_locked' ? 'account locked by identity' : 'account suspended';
    this.revocations = this.revocations
      .then(() => this.revokeAllOf(r.accountId, r.revokedAt, why))
      .catch((err: unknown) => this.d.onError?.(err, `revoking the grants of ${r.accountId} failed`));
  }

  private revocations: Promise<unknown> = Promise.resolve();

  /** Revokes the account's active grants started at or before `upTo`; returns how many. */
  async revokeAllOf(accountId: string, upTo: Date, reason: string): Promise<number> {
    const now = this.d.clock.now();
    let revoked = 0;
    for (;;) {
      // One unit per page: each revocation commits with its event.
      const { page, closed } = await this.d.uow.run(async (tx) => {
        const page = await this.d.grants.listActive({ accountId }, now, { limit: 200 }, tx);
        let closed = 0;
        for (const g of page.filter((x) => x.startedAt.getTime() <= upTo.getTime())) {
          const done = await this.d.grants.close(tx, g.grantId, now, { state: 'revoked', revokeReason: reason });
          if (!done) continue;
          closed++;
          tx.audit({ ...this.grantEvent('revoke', done, { ip: '', identity: 'service:identity', requestId: '' }), actor: { kind: 'system', id: 'impersonation' }, details: { employee: accountId, by: 'identity_revocation', revoke_reason: reason } });
        }
        return { page: page.length, closed };
      }, 'revoke-all');
      revoked += closed;
      // Done when the page was the last one, or when it revoked nothing (what is left started later).
      if (page < 200 || closed === 0) return revoked;
    }
  }

  /** ListActive: own grants for support/developer; anyone's for officer and manager. */
  async listActive(who: SessionEmployee, filter: { accountId?: string | undefined; customerDomain?: string | undefined }, page: { after?: { expiresAt: Date; grantId: string } | undefined; limit: number }): Promise<GrantRecord[]> {
    const accountId = this.scopedAccount(who, filter.accountId);
    const customerDomain = filter.customerDomain === undefined ? undefined : checkDomain(filter.customerDomain);
    return this.d.grants.listActive({ ...(accountId ? { accountId } : {}), ...(customerDomain ? { customerDomain } : {}) }, this.d.clock.now(), page);
  }

  /** Marks ACTIVE grants past expiry EXPIRED and audits each once (a periodic job). */
  async expireDue(): Promise<number> {
    const now = this.d.clock.now();
    let total = 0;
    for (;;) {
      // The expiry, its events and the mark that they were recorded commit as one unit.
      const { changed, reported } = await this.d.uow.run(async (tx) => {
        const changed = await this.d.grants.expireDue(tx, now, EXPIRY_BATCH);
        // Left unreported by an earlier version, which recorded the events in a second step; only
        // old ones, so a replica that just expired a grant is not raced.
        const unreported = changed.length < EXPIRY_BATCH ? await this.d.grants.expiryUnreported(new Date(now.getTime() - UNREPORTED_GRACE_MS), EXPIRY_BATCH, tx) : [];
        const all = [...changed, ...unreported.filter((u) => !changed.some((c) => c.grantId === u.grantId))];
        if (all.length > 0) {
          tx.audit(...all.map((g): Event => ({ ...this.grantEvent('expire', g, { ip: '', identity: 'system', requestId: '' }), actor: { kind: 'system', id: 'impersonation' } })));
          await this.d.grants.markExpiryReported(tx, all.map((g) => g.grantId));
        }
        return { changed: changed.length, reported: all.length };
      }, 'expire');
      total += reported;
      if (reported === 0 || changed < EXPIRY_BATCH) return total;
    }
  }

  // ---- tokens and access reports -------------------------------------------------------------

  /** VerifyImpersonationToken: signature, times, the grant's current state, then the operation. */
  async verify(token: string, operation: Operation, caller: Caller): Promise<Verification> {
    const result = await this.verifyQuietly(token, operation);
    if (!result.valid) {
      const denied: Event = {
        action: 'token_verify',
        outcome: 'denied',
        actor: { kind: 'service', id: caller.identity },
        ...(result.grant ? { subject: { kind: 'impersonation_grant', id: result.grant.grantId }, customerDomain: result.grant.customerDomain } : {}),
        sourceIp: caller.ip,
        requestId: caller.requestId,
        details: { reason: result.reason, operation },
      };
      await this.d.uow.run(async (tx) => tx.audit(denied), 'deny');
      return { valid: false, reason: result.reason };
    }
    return { valid: true, claims: result.claims };
  }

  private async verifyQuietly(token: string, operation: Operation): Promise<{ valid: true; claims: ImpersonationClaims; grant: GrantRecord } | { valid: false; reason: TokenInvalidReason; grant?: GrantRecord }> {
    const now = this.d.clock.now();
    const checked = await checkImpersonationToken(token, this.d.keys, this.d.settings.issuer, now, this.d.settings.leewayMs, this.verified);
    if (!checked.ok) return { valid: false, reason: checked.reason };
    const c = checked.claims;
    const grant = GRANT_ID_RE.test(c.grantId) ? await this.d.grants.get(c.grantId) : undefined;
    // A correctly signed token naming no grant was made for a start audit refused: never valid.
    if (!grant || grant.tokenId !== c.tokenId || grant.targetUserId !== c.targetUserId || grant.customerDomain !== c.customerDomain) return { valid: false, reason: 'revoked' };
    const state = effectiveState(grant, now);
    if (state === 'revoked') return { valid: false, reason: 'revoked', grant };
    if (state === 'ended') return { valid: false, reason: 'ended', grant };
    if (state === 'expired') return { valid: false, reason: 'expired', grant };
    if (FORBIDDEN_OPERATIONS.has(operation)) return { valid: false, reason: 'forbidden_operation', grant };
    return { valid: true, claims: { ...c, actor: { accountId: grant.employee.accountId, email: grant.employee.email, displayName: customerFacingName(grant.employee.displayName) } }, grant };
  }

  /** RecordAccess: idempotent by report id; only inside a live grant. */
  async recordAccess(
    req: { grantId?: string | undefined; token?: string | undefined; reportId: string; records: AccessedRecords[]; accessedAt: Date | undefined },
    caller: Caller,
  ): Promise<{ report: AccessReport; duplicate: boolean }> {
    const reportId = checkReportId(req.reportId);
    const records = checkAccessedRecords(req.records);
    const now = this.d.clock.now();
    if (req.accessedAt && req.accessedAt.getTime() > now.getTime() + this.d.settings.leewayMs) throw new InvalidArgumentError('accessed_at', 'lies in the future');
    const accessedAt = req.accessedAt ?? now;
    let grant: GrantRecord | undefined;
    if (req.token !== undefined && req.grantId !== undefined) throw new InvalidArgumentError('grant', 'give either grant_id or impersonation_token, not both');
    if (req.token !== undefined) {
      const v = await this.verifyQuietly(req.token, 'unspecified');
      if (!v.valid) throw new PermissionDeniedError(`the impersonation token is not valid (${v.reason.replace(/_/g, ' ')}); no access is recorded outside a live grant`);
      grant = v.grant;
    } else if (req.grantId !== undefined) {
      checkGrantId(req.grantId);
      grant = await this.d.grants.get(req.grantId);
      if (!grant) throw new NotFoundError(`grant ${req.grantId} not found`);
    } else throw new InvalidArgumentError('grant', 'is required: grant_id or impersonation_token');

    const end = grant.endedAt ?? grant.expiresAt;
    const endAt = Math.min(end.getTime(), grant.expiresAt.getTime());
    if (accessedAt.getTime() < grant.startedAt.getTime() || accessedAt.getTime() >= endAt) {
      throw new FailedPreconditionError(
        `grant ${grant.grantId} was not active at ${accessedAt.toISOString()} (${effectiveState(grant, now)}; live from ${grant.startedAt.toISOString()} to ${new Date(endAt).toISOString()}); no access is recorded outside a live grant`,
      );
    }
    const report: AccessReport = { reportId, grantId: grant.grantId, customerDomain: grant.customerDomain, records, accessedAt, recordedAt: now, reportedBy: caller.identity };
    const g = grant;
    const res = await this.runAgainOnDuplicate(() =>
      this.d.uow.run(async (tx) => {
        const res = await this.d.access.add(tx, report);
        if (res.duplicate && res.stored.grantId !== g.grantId) throw new InvalidArgumentError('report_id', 'was already used for a report on another grant');
        if (!res.duplicate) tx.audit(this.accessEvent(g, records, accessedAt, caller));
        return res;
      }, 'record-access'),
    );
    return { report: res.stored, duplicate: res.duplicate };
  }

  /** A report stored concurrently under the same id (MongoDB: committed after this unit's snapshot): the unit runs again and reads it. */
  private async runAgainOnDuplicate<T>(unit: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await unit();
      } catch (err) {
        if (!(err instanceof AlreadyExistsError) || i >= 3) throw err;
      }
    }
  }

  private accessEvent(grant: GrantRecord, records: AccessedRecords[], accessedAt: Date, caller: Caller): Event {
    return {
      action: 'record_access',
      outcome: 'success',
      actor: { kind: 'service', id: caller.identity },
      subject: { kind: 'impersonation_grant', id: grant.grantId },
      customerDomain: grant.customerDomain,
      sourceIp: caller.ip,
      requestId: caller.requestId,
      details: {
        employee: grant.employee.accountId,
        accessed_at: accessedAt.toISOString(),
        touched: records.map((r) => `${r.resourceType}:${r.operation}:${r.count}`).join(',').slice(0, 500),
      },
    };
  }

  // ---- anomalies -----------------------------------------------------------------------------

  async listAnomalies(who: SessionEmployee, filter: AnomalyFilter, page: { after?: { at: Date; id: string } | undefined; limit: number }): Promise<AnomalyRecord[]> {
    const accountId = this.scopedAccount(who, filter.accountId);
    return this.d.anomalies.list(
      { ...filter, ...(accountId ? { accountId } : {}), ...(filter.customerDomain !== undefined ? { customerDomain: checkDomain(filter.customerDomain) } : {}) },
      page,
    );
  }

  /** JustifyAnomaly: the anomaly's own employee, while OPEN. */
  async justify(who: SessionEmployee, anomalyId: string, justification: string, ticketRefs: readonly string[], caller: Caller): Promise<AnomalyRecord> {
    checkAnomalyId(anomalyId);
    const text = checkJustification(justification, this.d.settings.minJustification, MAX_ANOMALY_JUSTIFICATION);
    if (ticketRefs.length === 0) throw new InvalidArgumentError('ticket_refs', 'at least one ticket reference is required');
    if (ticketRefs.length > MAX_TICKETS) throw new InvalidArgumentError('ticket_refs', `at most ${MAX_TICKETS}`);
    const tickets = ticketRefs.map((t, i) => checkTicket(t, `ticket_refs[${i}]`));
    const a = await this.d.anomalies.get(anomalyId);
    if (!a || a.employee.accountId !== who.accountId) throw new NotFoundError(`anomaly ${anomalyId} not found among your anomalies`);
    if (a.state !== 'open') throw new FailedPreconditionError(`anomaly ${anomalyId} is ${a.state}, not open: it was already justified`);
    const next: AnomalyRecord = { ...a, state: 'justified', justification: text, ticketRefs: tickets, justifiedAt: this.d.clock.now(), version: a.version + 1 };
    return this.d.uow.run(async (tx) => {
      if (!(await this.d.anomalies.update(tx, next))) throw new AbortedError(`anomaly ${anomalyId} changed meanwhile; retry`);
      tx.audit(byEmployee(who, caller, {
        action: 'anomaly_justify',
        subject: { kind: 'anomaly', id: anomalyId },
        customerDomain: a.customerDomain,
        details: { ticket_refs: tickets.join(',').slice(0, 500) },
      }));
      return next;
    }, 'justify');
  }

  /**
   * ResolveAnomaly (officer, never for their own anomaly): ACCEPT a JUSTIFIED anomaly lifts the
   * block and starts the domain's count afresh; REJECT locks the employee out everywhere and
   * revokes their active grants.
   */
  async resolve(who: SessionEmployee, anomalyId: string, resolution: AnomalyResolution | undefined, note: string, caller: Caller): Promise<{ anomaly: AnomalyRecord; standing: ImpersonationStanding }> {
    this.requireOfficer(who, 'resolve anomalies');
    checkAnomalyId(anomalyId);
    if (!resolution) throw new InvalidArgumentError('resolution', 'is required: ACCEPT or REJECT');
    const why = freeText(note, 'note', { required: true, max: MAX_NOTE });
    const a = await this.d.anomalies.get(anomalyId);
    if (!a) throw new NotFoundError(`anomaly ${anomalyId} not found`);
    if (a.employee.accountId === who.accountId) throw new PermissionDeniedError('an officer may not resolve their own anomaly');
    if (a.state === 'accepted' || a.state === 'rejected') throw new FailedPreconditionError(`anomaly ${anomalyId} is already ${a.state}`);
    if (resolution === 'accept' && a.state === 'open') throw new FailedPreconditionError(`anomaly ${anomalyId} is open: the employee must justify it before it can be accepted`);
    const now = this.d.clock.now();
    const next: AnomalyRecord = { ...a, state: resolution === 'accept' ? 'accepted' : 'rejected', resolution, resolutionNote: why, resolvedBy: actorOf(who), resolvedAt: now, version: a.version + 1 };
    // An officer's decision is an approval (DESIGN.md §5): it stands only once audit confirmed its
    // intent, sent before anything changes; the outcome is staged with the decision's writes.
    const decided = byEmployee(who, caller, {
      action: 'anomaly_resolve',
      subject: { kind: 'anomaly', id: anomalyId },
      customerDomain: a.customerDomain,
      details: { resolution, employee: a.employee.accountId },
    });
    let intentId: string;
    try {
      ({ intentId } = await this.d.audit.confirm(decided));
    } catch (err) {
      throw isDomainError(err) ? err : new UnavailableError('audit could not confirm the decision; the anomaly is unchanged');
    }
    try {
      // One unit: the decision, the window's block lifted, and on REJECT the lock and every revocation, with all their events.
      await this.contended(() =>
        this.d.uow.run(async (tx) => {
          if (!(await this.d.anomalies.update(tx, next))) throw new AbortedError(`anomaly ${anomalyId} changed meanwhile; retry`);
          tx.faultPoint('anomaly');
          if (await this.unblock(tx, a.employee.accountId, a.customerDomain, anomalyId)) tx.faultPoint('window');
          const events: Event[] = [{ ...decided, intentId }];
          if (resolution === 'reject') {
            await this.lock(tx, a.employee.accountId, anomalyId, now);
            tx.faultPoint('lock');
            events.push(byEmployee(who, caller, {
              action: 'lock',
              subject: { kind: 'account', id: a.employee.accountId },
              customerDomain: a.customerDomain,
              details: { anomaly_id: anomalyId },
            }));
            for (let after: ActivePage['after']; ; ) {
              const active = await this.d.grants.listActive({ accountId: a.employee.accountId }, now, { limit: 200, ...(after ? { after } : {}) }, tx);
              for (const g of active) {
                const closed = await this.d.grants.close(tx, g.grantId, now, { state: 'revoked', revokedBy: actorOf(who), revokeReason: `anomaly ${anomalyId} rejected` });
                if (!closed) continue;
                tx.faultPoint('revoke');
                events.push({ ...this.grantEvent('revoke', closed, caller), actor: employeeActor(who), details: { by: 'anomaly_rejection', anomaly_id: anomalyId } });
              }
              const last = active.at(-1);
              if (!last || active.length < 200) break;
              after = { expiresAt: last.expiresAt, grantId: last.grantId };
            }
          }
          tx.audit(...events);
        }, 'resolve'),
      );
    } catch (err) {
      // The confirmed intent gets its outcome: the decision was not performed.
      await this.d.uow
        .run(async (tx) => tx.audit({ ...decided, outcome: 'failure', intentId, details: { ...decided.details, error: 'not performed: the anomaly changed meanwhile or the store failed' } }), 'refuse')
        .catch(() => undefined);
      throw err;
    }
    return { anomaly: next, standing: await this.standingOf(a.employee.accountId) };
  }

  /** GetImpersonationStatus: anyone for themselves; officer and manager for anyone. */
  async status(who: SessionEmployee, accountId: string | undefined): Promise<ImpersonationStanding> {
    const id = accountId === undefined ? who.accountId : checkAccountId(accountId);
    if (id !== who.accountId && !who.roles.some((r) => SEES_EVERYONE.includes(r))) throw new PermissionDeniedError("only the security officer and managers may see another employee's impersonation standing");
    return this.standingOf(id);
  }

  /** UnlockImpersonation (officer). */
  async unlock(who: SessionEmployee, accountId: string, note: string, caller: Caller): Promise<ImpersonationStanding> {
    this.requireOfficer(who, 'unlock impersonation');
    const id = checkAccountId(accountId);
    const why = freeText(note, 'note', { required: true, max: MAX_NOTE });
    const l = await this.d.locks.get(id);
    if (!l) throw new NotFoundError(`account ${id} has no impersonation lock`);
    if (!l.locked) throw new FailedPreconditionError(`account ${id} is not locked out of impersonation`);
    const next: LockRecord = { ...l, locked: false, unlockedAt: this.d.clock.now(), unlockedBy: actorOf(who), version: l.version + 1 };
    await this.d.uow.run(async (tx) => {
      if (!(await this.d.locks.put(tx, next))) throw new AbortedError(`the lock of ${id} changed meanwhile; retry`);
      tx.audit(byEmployee(who, caller, {
        action: 'unlock',
        subject: { kind: 'account', id },
        details: { note: why.slice(0, 500), ...(l.anomalyId ? { anomaly_id: l.anomalyId } : {}) },
      }));
    }, 'unlock');
    return this.standingOf(id);
  }

  // ---- the customer's view -------------------------------------------------------------------

  /** ListAccessForDomain: one entry per grant, newest first, with what was touched. */
  async accessLog(
    reader: { employee?: SessionEmployee; identity: string },
    domain: string,
    range: { from?: Date | undefined; to?: Date | undefined },
    page: { after?: { at: Date; id: string } | undefined; limit: number },
    caller: Caller,
  ): Promise<AccessLogEntry[]> {
    const customerDomain = checkDomain(domain);
    if (reader.employee && !reader.employee.roles.some((r) => SEES_EVERYONE.includes(r))) {
      throw new PermissionDeniedError('the access log is for product backends, the security officer and managers');
    }
    const grants = await this.d.grants.listForDomain(customerDomain, { ...(range.from ? { from: range.from } : {}), ...(range.to ? { to: range.to } : {}) }, page);
    const reports = grants.length ? await this.d.access.forGrants(grants.map((g) => g.grantId)) : [];
    const now = this.d.clock.now();
    const read: Event = {
      action: 'access_log_read',
      outcome: 'success',
      actor: reader.employee ? employeeActor(reader.employee) : { kind: 'service', id: reader.identity },
      subject: { kind: 'customer_domain', id: customerDomain },
      customerDomain,
      sourceIp: caller.ip,
      requestId: caller.requestId,
      details: { entries: String(grants.length) },
    };
    await this.d.uow.run(async (tx) => tx.audit(read), 'access-log-read');
    return grants.map((g) => ({
      grant: { ...g, employee: { ...g.employee, displayName: customerFacingName(g.employee.displayName) } },
      state: effectiveState(g, now),
      touched: summarize(reports.filter((r) => r.grantId === g.grantId)),
    }));
  }

  // ---- helpers -------------------------------------------------------------------------------

  private async standingOf(accountId: string): Promise<ImpersonationStanding> {
    const now = this.d.clock.now();
    const [lock, blocking, active, latestGrant, latestAnomaly] = await Promise.all([
      this.d.locks.get(accountId),
      this.d.anomalies.list({ accountId, states: ['open', 'justified'] }, { limit: 500 }),
      this.d.grants.countActive(accountId, now),
      this.d.grants.listActive({ accountId }, now, { limit: 1 }),
      this.d.anomalies.list({ accountId }, { limit: 1 }),
    ]);
    const locked = lock?.locked === true;
    return {
      accountId,
      employee: latestGrant[0]?.employee ?? latestAnomaly[0]?.employee ?? null,
      locked,
      lockedAt: locked ? (lock?.lockedAt ?? null) : null,
      lockingAnomalyId: locked ? (lock?.anomalyId ?? null) : null,
      blockedDomains: blocking.map((a) => ({ customerDomain: a.customerDomain, anomalyId: a.anomalyId })),
      activeGrantCount: active,
    };
  }

  /** Clears the window's block (if it is this anomaly's) and its count: the officer has judged those grants. True if it wrote. */
  private async unblock(tx: Tx, accountId: string, customerDomain: string, anomalyId: string): Promise<boolean> {
    const w = await this.d.bursts.get(accountId, customerDomain, tx);
    if (!w || w.blockingAnomalyId !== anomalyId) return false;
    if (!(await this.d.bursts.put(tx, { ...w, version: w.version + 1, entries: [], blockingAnomalyId: null }))) throw new Contended();
    return true;
  }

  private async lock(tx: Tx, accountId: string, anomalyId: string, now: Date): Promise<void> {
    const l = await this.d.locks.get(accountId, tx);
    const next: LockRecord = { accountId, locked: true, lockedAt: now, anomalyId, unlockedAt: null, unlockedBy: null, version: (l?.version ?? 0) + 1 };
    if (!(await this.d.locks.put(tx, next))) throw new Contended();
  }

  private requireOfficer(who: SessionEmployee, what: string): void {
    if (!who.roles.includes(OFFICER)) throw new PermissionDeniedError(`only the security officer may ${what}`);
  }

  /** The account a listing is limited to: support and developers see only their own. */
  private scopedAccount(who: SessionEmployee, requested: string | undefined): string | undefined {
    const all = who.roles.some((r) => SEES_EVERYONE.includes(r));
    if (requested !== undefined) {
      const id = checkAccountId(requested);
      if (!all && id !== who.accountId) throw new PermissionDeniedError("only the security officer and managers may list another employee's impersonations");
      return id;
    }
    return all ? undefined : who.accountId;
  }

  private grantEvent(action: 'end' | 'revoke' | 'expire', g: GrantRecord, caller: Caller): Event {
    return {
      action,
      outcome: 'success',
      actor: employeeActor(g.employee),
      subject: { kind: 'impersonation_grant', id: g.grantId },
      customerDomain: g.customerDomain,
      ...(caller.ip ? { sourceIp: caller.ip } : {}),
      ...(caller.requestId ? { requestId: caller.requestId } : {}),
      details: { employee: g.employee.accountId, ...(g.revokeReason ? { revoke_reason: g.revokeReason.slice(0, 500) } : {}) },
    };
  }

  private refusedEvent(who: SessionEmployee, customerDomain: string, targetUserId: string, why: string, caller: Caller, extra: Record<string, string>): Event {
    return byEmployee(who, caller, {
      action: 'refused',
      outcome: 'denied',
      subject: { kind: 'customer_domain', id: customerDomain },
      customerDomain,
      details: { reason: why, ...extra },
      hashedDetails: { customer_user_id: targetUserId },
    });
  }
}

/** What the customer sees when the employee has no display name fit to show. */
export const CUSTOMER_FACING_FALLBACK = 'Gatehouse support';

/**
 * The name the customer sees (the token's act.name, the access log): the display name the
 * officer approved, never an e-mail address (issue 13 item 5). A missing name, or one that is
 * (or holds) an address, as an account approved before names were required may carry, becomes
 * "Gatehouse support". Applied when a grant is made and again when one is shown, so a grant
 * stored earlier with an e-mail is not shown with it either.
 */
export function customerFacingName(name: string | undefined): string {
  const n = name?.trim();
  return n && !n.includes('@') ? n : CUSTOMER_FACING_FALLBACK;
}

function displayNameOf(who: SessionEmployee): string {
  return customerFacingName(who.displayName);
}

/** Reports of one grant totalled per (resource type, operation), distinct ids up to 1000. */
function summarize(reports: readonly AccessReport[]): AccessLogEntry['touched'] {
  const byKey = new Map<string, { resourceType: string; operation: AccessOperation; count: number; ids: Set<string>; truncated: boolean }>();
  for (const r of [...reports].sort((a, b) => a.accessedAt.getTime() - b.accessedAt.getTime())) {
    for (const rec of r.records) {
      const key = `${rec.resourceType}\u0000${rec.operation}`;
      let t = byKey.get(key);
      if (!t) byKey.set(key, (t = { resourceType: rec.resourceType, operation: rec.operation, count: 0, ids: new Set(), truncated: false }));
      t.count += rec.count;
      for (const id of rec.recordIds) {
        if (t.ids.has(id)) continue;
        if (t.ids.size >= ACCESS_LOG_IDS) t.truncated = true;
        else t.ids.add(id);
      }
    }
  }
  return [...byKey.values()].map((t) => ({ resourceType: t.resourceType, operation: t.operation, count: t.count, recordIds: [...t.ids], truncated: t.truncated }));
}
