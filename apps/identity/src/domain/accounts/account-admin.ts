import { createHash, randomBytes } from 'node:crypto';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, PermissionDeniedError, AbortedError } from '@gatehouse/core';
import { newId, type CallSource, type IdentityDeps } from '../identity-deps.js';
import { retireCredential, type OtpCredential, type ThrottleState } from '../otp/index.js';
import type { IdentityEvent, IdentityTx } from '../ports.js';
import { checkReason, employeeActor, type AuthenticatedSession, type SessionService } from '../sessions/session-service.js';
import { ROLES, applicantAccount, type Account, type AccountFilter, type Actor, type Role } from './account.js';
import { ROLE_CHANGE_TTL_MS, effectiveRoleChangeState, privilegedAdditions, type RoleChange, type RoleChangeKind, type RoleChangeState } from './role-change.js';

/** E.164: a plus, then 7 to 15 digits, no leading zero (ITU-T E.164). */
const E164 = /^\+[1-9]\d{6,14}$/;
/** Account ids as identity makes them. */
const ACCOUNT_ID = /^acc_[A-Za-z0-9_-]{22}$/;
/** Role change ids as identity makes them. */
const ROLE_CHANGE_ID = /^rch_[A-Za-z0-9_-]{22}$/;

/** What SetRoles and ApproveAccount answer: the account, and the change when it waits for a second officer. */
export interface RoleChangeOutcome {
  view: AccountView;
  revoked: number;
  /** Set when the change grants a privileged role and waits for ApproveRoleChange (two-person rule). */
  pending?: RoleChange | undefined;
}

/** An account with what the officer sees next to it: lock state and active credential. */
export interface AccountView {
  account: Account;
  throttle: ThrottleState;
  locked: boolean;
  activeCredential: OtpCredential | null;
}

/** The last four digits only, for display. */
export function maskPhone(phone: string): string {
  return `••••${phone.slice(-4)}`;
}

/** SHA-256 of a bootstrap token: only this is stored. */
export function bootstrapTokenHash(token: string): string {
  return createHash('sha256').update(`gatehouse/bootstrap:${token}`).digest('hex');
}

/**
 * Accounts (issue 4 item 1): the first officer's bootstrap, and the security officer's approve,
 * suspend, roles, phone number, unlock and OTP reset. Changing who gets in or what they may
 * reach is critical: the event is confirmed by audit before the change, or nothing happens.
 */
export class AccountAdmin {
  constructor(
    private readonly d: IdentityDeps,
    private readonly sessions: SessionService,
  ) {}

  /**
   * At start-up: when no active officer exists and no unexpired token is pending, create a
   * one-time bootstrap token (256 bits). Returns it, to be shown once; only its hash is stored.
   */
  async ensureBootstrapToken(): Promise<string | undefined> {
    // Also while only one officer exists: the two-person rule needs a second one (issue 13 item 2).
    if ((await this.d.accounts.countActiveOfficers()) >= 2) return undefined;
    const now = this.d.clock.now();
    if (await this.d.bootstrap.pending(now)) return undefined;
    const token = `ghb_${randomBytes(32).toString('base64url')}`;
    await this.d.uow.run((tx) => this.d.bootstrap.put(tx, bootstrapTokenHash(token), now, new Date(now.getTime() + this.d.settings.bootstrapTokenTtlMs)), 'write-bootstrap-token');
    return token;
  }

  /** BootstrapOfficer: the one-time token plus the person's Google ID token make the first security officer. */
  async bootstrapOfficer(bootstrapToken: string, idToken: string, phone: string, source: CallSource): Promise<AccountView> {
    if (typeof bootstrapToken !== 'string' || !/^ghb_[A-Za-z0-9_-]{43}$/.test(bootstrapToken)) {
      throw new PermissionDeniedError('the bootstrap token is not valid');
    }
    checkPhone(phone);
    const officers = await this.d.accounts.countActiveOfficers();
    if (officers >= 2 || (officers === 1 && !(await this.d.bootstrap.pending(this.d.clock.now())))) {
      throw new FailedPreconditionError(
        officers >= 2
          ? 'a security officer already exists: bootstrap is closed'
          : 'a security officer already exists: bootstrap is closed until identity writes a new token for the second officer (at its next start)',
      );
    }
    const google = await this.d.google.verify(idToken);
    const now = this.d.clock.now();
    // The token's consumption, the officer's account and the event: one unit.
    const account = await this.d.uow.run(async (tx) => {
      if (!(await this.d.bootstrap.consume(tx, bootstrapTokenHash(bootstrapToken), now))) {
        tx.audit({ action: 'bootstrap_officer', outcome: 'denied', actor: { kind: 'anonymous', id: '' }, sourceIp: source.ip, requestId: source.requestId, details: { reason: 'token' } });
        return undefined;
      }
      tx.faultPoint('token-consume');
      const existing = await this.d.accounts.byIssuerSubject(google.issuer, google.subject, tx);
      if (existing?.state === 'active' && existing.roles.includes('security_officer')) {
        throw new FailedPreconditionError('this Google account is already an active security officer: the second officer must be another person');
      }
      const accountId = existing?.accountId ?? newId('acc');
      const base: Account = existing ?? { ...applicantAccount(google, accountId, now), version: 0 };
      const self: Actor = { accountId, email: google.email };
      const next: Account = {
        ...base,
        roles: [...new Set<Role>([...base.roles, 'security_officer'])],
        state: 'active',
        phoneCiphertext: this.d.secrets.phoneCipher.encrypt(phone, accountId),
        phoneMask: maskPhone(phone),
        approvedAt: now,
        approvedBy: self,
        updatedAt: now,
        version: base.version + 1,
      };
      if (existing) {
        if (!(await this.d.accounts.update(tx, next))) throw new AbortedError('the account changed concurrently: retry with a new bootstrap token');
      } else {
        await this.d.accounts.create(tx, next);
      }
      tx.faultPoint('account-write');
      tx.audit({
        action: 'bootstrap_officer',
        outcome: 'success',
        actor: employeeActor(next),
        subject: { kind: 'account', id: accountId, displayName: next.email },
        sourceIp: source.ip,
        requestId: source.requestId,
        details: { phone_mask: next.phoneMask ?? '' },
      });
      return next;
    }, 'bootstrap-officer');
    if (!account) throw new PermissionDeniedError('the bootstrap token is not valid, expired or already used');
    return this.viewOf(account);
  }

  /** GetAccount: the officer sees any account; anyone else only their own (others are NOT_FOUND). */
  async get(by: AuthenticatedSession, accountId: string): Promise<AccountView> {
    const officer = by.claims.roles.includes('security_officer');
    if (!officer && accountId !== by.claims.accountId) throw new NotFoundError('no such account');
    return this.viewOf(await this.load(accountId));
  }

  /** ListAccounts for the officer, newest first. */
  async list(filter: AccountFilter, page: { after?: { createdAt: Date; accountId: string } | undefined; limit: number }): Promise<AccountView[]> {
    const rows = await this.d.accounts.list(filter, page);
    return Promise.all(rows.map((a) => this.viewOf(a)));
  }

  /**
   * ApproveAccount: a pending or suspended account may sign in, with these roles and the
   * display name customers will see (critical).
   */
  async approve(officer: AuthenticatedSession, accountId: string, roles: Role[], phone: string | undefined, note: string, displayName: string, source: CallSource): Promise<RoleChangeOutcome> {
    const why = checkReason(note, false, 'note');
    checkRoles(roles);
    if (phone !== undefined) checkPhone(phone);
    const account = await this.load(accountId);
    if (account.state === 'active') throw new FailedPreconditionError('the account is already active');
    const name = checkDisplayName(displayName);
    if (!account.phoneCiphertext && phone === undefined) throw new FailedPreconditionError('the account has no phone number on file: give one (the SMS step needs it)');
    const phoneFields = phone !== undefined ? { phoneCiphertext: this.d.secrets.phoneCipher.encrypt(phone, accountId), phoneMask: maskPhone(phone) } : {};
    // A pending or suspended account holds no access: every privileged role it gets is granted now.
    const granted = privilegedAdditions([], roles);
    if (granted.length > 0) {
      const pending = await this.requestChange(officer, account, 'approve_account', roles, granted, why, { displayName: name, ...phoneFields }, source, 'approve-account');
      return { view: await this.viewOf(account), revoked: 0, pending };
    }
    const next = this.approved(account, roles, name, phoneFields, actorOf(officer));
    await this.critical(officer, next, 'account_approve', source, { roles: roles.join(','), note: why, previous_state: account.state, display_name: name }, 'approve-account');
    return { view: await this.viewOf(next), revoked: 0 };
  }

  /** The account approved (or reinstated) with these roles and display name. */
  private approved(account: Account, roles: Role[], displayName: string, phone: { phoneCiphertext?: string | undefined; phoneMask?: string | undefined }, by: Actor): Account {
    const now = this.d.clock.now();
    return {
      ...account,
      state: 'active',
      roles: [...roles],
      displayName,
      displayNameApproved: true,
      ...(phone.phoneCiphertext !== undefined ? { phoneCiphertext: phone.phoneCiphertext, phoneMask: phone.phoneMask } : {}),
      approvedAt: now,
      approvedBy: by,
      suspendedAt: undefined,
      suspendedBy: undefined,
      suspensionReason: undefined,
      updatedAt: now,
      version: account.version + 1,
    };
  }

  /** SuspendAccount: no more sign-ins, every session revoked at once (critical). Never the last officer. */
  async suspend(officer: AuthenticatedSession, accountId: string, reason: string, source: CallSource): Promise<{ view: AccountView; revoked: number }> {
    const why = checkReason(reason, true);
    const account = await this.load(accountId);
    if (account.state === 'suspended') throw new FailedPreconditionError('the account is already suspended');
    if (account.state === 'active' && account.roles.includes('security_officer') && (await this.d.accounts.countActiveOfficers()) <= 1) {
      throw new FailedPreconditionError('this is the last active security officer: appoint another before suspending this one');
    }
    const now = this.d.clock.now();
    const next: Account = { ...account, state: 'suspended', suspendedAt: now, suspendedBy: actorOf(officer), suspensionReason: why, updatedAt: now, version: account.version + 1 };
    let revoked = 0;
    await this.critical(officer, next, 'account_suspend', source, { reason: why }, 'suspend-account', undefined, async (tx) => {
      revoked = await this.sessions.revokeAllFor(tx, accountId, actorOf(officer), `account suspended: ${why}`, 'account_suspended');
    });
    this.sessions.revocationsCommitted();
    return { view: await this.viewOf(next), revoked };
  }

  /**
   * SetRoles: the full set, replacing the old; sessions revoked so the next sign-in carries them
   * (critical). Nobody changes their own roles, and adding a privileged role waits for a second
   * officer (two-person rule, issue 13 item 2).
   */
  async setRoles(officer: AuthenticatedSession, accountId: string, roles: Role[], reason: string, source: CallSource): Promise<RoleChangeOutcome> {
    const why = checkReason(reason, true);
    checkRoles(roles);
    const account = await this.load(accountId);
    if (account.state !== 'active') throw new FailedPreconditionError('roles can only be set on an active account');
    if (account.roles.includes('security_officer') && !roles.includes('security_officer') && (await this.d.accounts.countActiveOfficers()) <= 1) {
      throw new FailedPreconditionError('this is the last active security officer: appoint another before removing the role');
    }
    if (accountId === officer.claims.accountId) {
      throw new PermissionDeniedError('nobody changes their own roles: another security officer must change them');
    }
    const granted = privilegedAdditions(account.roles, roles);
    if (granted.length > 0) {
      const pending = await this.requestChange(officer, account, 'set_roles', roles, granted, why, {}, source, 'set-roles');
      return { view: await this.viewOf(account), revoked: 0, pending };
    }
    // Sets the roles now (critical) and revokes the account's sessions, in the same unit.
    const now = this.d.clock.now();
    const next: Account = { ...account, roles: [...roles], updatedAt: now, version: account.version + 1 };
    let revoked = 0;
    await this.critical(officer, next, 'roles_set', source, { roles: roles.join(','), previous_roles: account.roles.join(','), reason: why }, 'set-roles', undefined, async (tx) => {
      revoked = await this.sessions.revokeAllFor(tx, accountId, actorOf(officer), `roles changed: ${why}`);
    });
    this.sessions.revocationsCommitted();
    return { view: await this.viewOf(next), revoked };
  }

  /**
   * Records a role change that grants a privileged role, to wait for a second officer. Refused
   * when nobody could approve it: the approver must be an active officer other than the
   * requester and the account holder. The request is audited (confirmed) before it is stored.
   */
  private async requestChange(
    officer: AuthenticatedSession,
    account: Account,
    kind: RoleChangeKind,
    roles: Role[],
    granted: Role[],
    why: string,
    extra: Pick<RoleChange, 'displayName' | 'phoneCiphertext' | 'phoneMask'>,
    source: CallSource,
    useCase: string,
  ): Promise<RoleChange> {
    const holderIsOfficer = account.state === 'active' && account.roles.includes('security_officer');
    const approvers = (await this.d.accounts.countActiveOfficers()) - 1 - (holderIsOfficer ? 1 : 0);
    if (approvers < 1) {
      throw new FailedPreconditionError(
        `granting ${granted.join(', ')} needs a second security officer's approval (two-person rule), and no other active security officer exists to approve it: appoint a second officer first (identity writes a bootstrap token for one at start while fewer than two officers exist)`,
      );
    }
    const now = this.d.clock.now();
    const change: RoleChange = {
      changeId: newId('rch'),
      accountId: account.accountId,
      kind,
      roles: [...roles],
      grantedRoles: granted,
      reason: why,
      ...extra,
      accountVersion: account.version,
      requestedBy: actorOf(officer),
      requestedAt: now,
      expiresAt: new Date(now.getTime() + ROLE_CHANGE_TTL_MS),
      state: 'pending',
      version: 1,
    };
    const event = this.officerEvent(officer, account, 'role_change_request', source, {
      change_id: change.changeId,
      kind,
      roles: roles.join(','),
      granted_roles: granted.join(','),
      previous_roles: account.roles.join(','),
      reason: why,
      expires_at: change.expiresAt.toISOString(),
    });
    const { intentId } = await this.d.audit.confirm(event);
    await this.d.uow.run(async (tx) => {
      await this.d.roleChanges.create(tx, change);
      tx.faultPoint('role-change-create');
      tx.audit({ ...event, intentId, occurredAt: now });
    }, useCase);
    return change;
  }

  /** ListRoleChanges: changes in these states (default pending), newest first, with expiry applied, each with its account. */
  async listRoleChanges(states: readonly RoleChangeState[], limit: number): Promise<Array<{ change: RoleChange; account: Account | undefined }>> {
    const wanted: readonly RoleChangeState[] = states.length > 0 ? states : ['pending'];
    // A stored pending change past its expiry reads as expired.
    const stored = wanted.includes('expired') && !wanted.includes('pending') ? [...wanted, 'pending' as const] : wanted;
    const now = this.d.clock.now();
    const changes = (await this.d.roleChanges.list(stored, limit)).map((c) => ({ ...c, state: effectiveRoleChangeState(c, now) })).filter((c) => wanted.includes(c.state));
    return Promise.all(changes.map(async (change) => ({ change, account: await this.d.accounts.byId(change.accountId) })));
  }

  /**
   * ApproveRoleChange: a second officer approves a pending change, which is then applied as
   * SetRoles or ApproveAccount would (critical). The pending → applied move is a
   * compare-and-set, so of two approvals only one applies.
   */
  async approveRoleChange(officer: AuthenticatedSession, changeId: string, note: string, source: CallSource): Promise<{ change: RoleChange } & RoleChangeOutcome> {
    const why = checkReason(note, false, 'note');
    if (typeof changeId !== 'string' || !ROLE_CHANGE_ID.test(changeId)) throw new InvalidArgumentError('change_id', 'is not a role change id (rch_ followed by 22 base64url characters)');
    const change = await this.d.roleChanges.byId(changeId);
    if (!change) throw new NotFoundError('no such role change');
    const now = this.d.clock.now();
    const state = effectiveRoleChangeState(change, now);
    if (state === 'expired') {
      if (change.state === 'pending') await this.d.uow.run((tx) => this.d.roleChanges.decide(tx, { ...change, state: 'expired', version: change.version + 1 }), 'expire-role-change');
      throw new FailedPreconditionError(`the role change expired at ${change.expiresAt.toISOString()} without a second approval: request it again`);
    }
    if (state !== 'pending') throw new FailedPreconditionError('the role change was already approved and applied');
    if (change.requestedBy.accountId === officer.claims.accountId) {
      throw new PermissionDeniedError('two-person rule: the officer who requested a role change cannot approve it; another security officer must');
    }
    if (change.accountId === officer.claims.accountId) throw new PermissionDeniedError('nobody approves a change of their own roles');
    const account = await this.load(change.accountId);
    if (account.version !== change.accountVersion) {
      throw new FailedPreconditionError('the account changed since the role change was requested: request it again');
    }
    if (change.kind === 'set_roles' && account.state !== 'active') throw new FailedPreconditionError('roles can only be set on an active account');
    if (change.kind === 'approve_account' && account.state === 'active') throw new FailedPreconditionError('the account is already active');
    const applied: RoleChange = { ...change, state: 'applied', approvedBy: actorOf(officer), approvedAt: now, approvalNote: why, version: change.version + 1 };
    const event = this.officerEvent(officer, account, 'role_change_approve', source, {
      change_id: change.changeId,
      kind: change.kind,
      roles: change.roles.join(','),
      granted_roles: change.grantedRoles.join(','),
      requested_by: change.requestedBy.accountId,
      note: why,
    });
    // The change is the requester's: the applied event names them, with who approved it.
    const trail = { change_id: change.changeId, requested_by: change.requestedBy.accountId, approved_by: officer.claims.accountId };
    const next: Account =
      change.kind === 'set_roles'
        ? { ...account, roles: [...change.roles], updatedAt: now, version: account.version + 1 }
        : this.approved(account, change.roles, change.displayName ?? account.displayName, change, change.requestedBy);
    const appliedEvent =
      change.kind === 'set_roles'
        ? this.officerEvent(officer, next, 'roles_set', source, { roles: change.roles.join(','), previous_roles: account.roles.join(','), reason: change.reason, ...trail }, change.requestedBy)
        : this.officerEvent(
            officer,
            next,
            'account_approve',
            source,
            { roles: change.roles.join(','), note: change.reason, previous_state: account.state, display_name: next.displayName, ...trail },
            change.requestedBy,
          );
    // Both intents are confirmed before anything changes (fail closed); then the approval, the
    // account and its sessions change in ONE unit with both outcomes (issue 14).
    const { intentId } = await this.d.audit.confirm(event);
    const { intentId: appliedIntent } = await this.d.audit.confirm(appliedEvent);
    let revoked = 0;
    const outcome = await this.d.uow
      .run(async (tx): Promise<'applied' | 'decided'> => {
        if (!(await this.d.roleChanges.decide(tx, applied))) {
          tx.audit({ ...event, intentId, outcome: 'error', details: { ...event.details, error: 'decided concurrently: not applied' } });
          return 'decided';
        }
        tx.faultPoint('role-change-decide');
        // Lost: the whole unit rolls back, so the change waits again (its refusal is staged below).
        if (!(await this.d.accounts.update(tx, next))) throw new AccountChangedMeanwhile();
        tx.faultPoint('account-update');
        if (change.kind === 'set_roles') revoked = await this.sessions.revokeAllFor(tx, account.accountId, change.requestedBy, `roles changed: ${change.reason}`);
        tx.audit({ ...event, intentId, occurredAt: now }, { ...appliedEvent, intentId: appliedIntent });
        return 'applied';
      }, 'approve-role-change')
      .catch(async (err: unknown) => {
        if (!(err instanceof AccountChangedMeanwhile)) throw err;
        const error = 'concurrent change: not applied';
        await this.d.uow.run(async (tx) => {
          tx.audit(
            { ...event, intentId, outcome: 'error', details: { ...event.details, error } },
            { ...appliedEvent, intentId: appliedIntent, outcome: 'error', details: { ...appliedEvent.details, error } },
          );
        }, 'approve-role-change-refused');
        throw new AbortedError('the account was changed concurrently: reload it and retry');
      });
    if (outcome === 'decided') throw new AbortedError('the role change was decided concurrently (another approval won): reload it');
    this.sessions.revocationsCommitted();
    return { change: applied, view: await this.viewOf(next), revoked };
  }

  /** SetPhoneNumber: the officer sets the SMS number (verified out of band); stored encrypted, shown masked. */
  async setPhone(officer: AuthenticatedSession, accountId: string, phone: string, reason: string, source: CallSource): Promise<AccountView> {
    const why = checkReason(reason, false);
    checkPhone(phone);
    const account = await this.load(accountId);
    const now = this.d.clock.now();
    const next: Account = {
      ...account,
      phoneCiphertext: this.d.secrets.phoneCipher.encrypt(phone, accountId),
      phoneMask: maskPhone(phone),
      updatedAt: now,
      version: account.version + 1,
    };
    await this.critical(officer, next, 'phone_number_set', source, { phone_mask: next.phoneMask ?? '', reason: why }, 'set-phone-number');
    return this.viewOf(next);
  }

  /** UnlockAccount: lifts a lockout or throttle and resets the count; the unlock event is the holder's notification. */
  async unlock(officer: AuthenticatedSession, accountId: string, note: string, source: CallSource): Promise<AccountView> {
    const why = checkReason(note, false, 'note');
    const account = await this.load(accountId);
    const state = await this.d.throttle.state(accountId);
    if (state.consecutiveFailures === 0 && state.lockedAt === null && state.nextAttemptAt === null) {
      throw new FailedPreconditionError('the account is neither locked nor throttled');
    }
    await this.d.uow.run(async (tx) => {
      const before = await this.d.throttle.unlock(tx, accountId);
      tx.faultPoint('throttle-reset');
      tx.audit(
        this.officerEvent(officer, account, 'account_unlock', source, {
          note: why,
          was_locked: String(this.d.throttle.throttle.isLocked(before)),
          consecutive_failures: String(before.consecutiveFailures),
        }),
      );
    }, 'unlock-account');
    return this.viewOf(account);
  }

  /** ResetOtp: retires the active credential (lost device); the next sign-in enrols again. Sessions revoked. */
  async resetOtp(officer: AuthenticatedSession, accountId: string, reason: string, source: CallSource): Promise<{ view: AccountView; revoked: number }> {
    const why = checkReason(reason, true);
    const account = await this.load(accountId);
    const active = await this.d.credentials.byAccount(accountId, 'active');
    if (active.length === 0) throw new FailedPreconditionError('the account has no active OTP credential');
    const now = this.d.clock.now();
    const revoked = await this.d.uow.run(async (tx) => {
      for (const cred of active) {
        const t = retireCredential(cred, now);
        await this.d.credentials.compareAndSet(tx, t.guard, t.next);
      }
      tx.faultPoint('credentials-retire');
      const n = await this.sessions.revokeAllFor(tx, accountId, actorOf(officer), `OTP reset: ${why}`);
      tx.audit(this.officerEvent(officer, account, 'otp_reset', source, { reason: why, credentials: active.map((c) => c.credentialId).join(',') }));
      return n;
    }, 'reset-otp');
    this.sessions.revocationsCommitted();
    return { view: await this.viewOf(account), revoked };
  }

  /** The account behind a session, for WhoAmI. */
  async own(session: AuthenticatedSession): Promise<AccountView> {
    return this.viewOf(await this.load(session.claims.accountId));
  }

  /** The account with its lock state and active credential. */
  async viewOf(account: Account): Promise<AccountView> {
    const throttle = await this.d.throttle.state(account.accountId);
    const [active] = await this.d.credentials.byAccount(account.accountId, 'active');
    return { account, throttle, locked: this.d.throttle.throttle.isLocked(throttle), activeCredential: active ?? null };
  }

  private async load(accountId: string): Promise<Account> {
    if (typeof accountId !== 'string' || !ACCOUNT_ID.test(accountId)) throw new InvalidArgumentError('account_id', 'is not an account id (acc_ followed by 22 base64url characters)');
    const a = await this.d.accounts.byId(accountId);
    if (!a) throw new NotFoundError('no such account');
    return a;
  }

  /**
   * A critical change: audit confirms its intent first (fail closed; the intent reads ATTEMPTED),
   * then ONE unit of work applies the account's compare-and-set, what goes with it (`more`:
   * revocations), and the outcome event naming the intent (issue 13 item 6: an event says only
   * what happened; issue 14: the change and its event commit together or not at all).
   */
  private async critical(
    officer: AuthenticatedSession,
    next: Account,
    action: IdentityEvent['action'],
    source: CallSource,
    details: Record<string, string>,
    useCase: string,
    by?: Actor,
    more?: (tx: IdentityTx) => Promise<void>,
  ): Promise<void> {
    const event = this.officerEvent(officer, next, action, source, details, by);
    const { intentId } = await this.d.audit.confirm(event);
    const applied = await this.d.uow.run(async (tx) => {
      if (!(await this.d.accounts.update(tx, next))) {
        tx.audit({ ...event, intentId, outcome: 'error', details: { ...details, error: 'concurrent change: not applied' } });
        return false;
      }
      tx.faultPoint('account-update');
      await more?.(tx);
      tx.audit({ ...event, intentId });
      return true;
    }, useCase);
    if (!applied) throw new AbortedError('the account was changed concurrently: reload it and retry');
  }

  /** An officer's event; `by` names another officer as the actor (the requester of a change a second officer approved). */
  private officerEvent(officer: AuthenticatedSession, account: Account, action: IdentityEvent['action'], source: CallSource, details: Record<string, string>, by?: Actor): IdentityEvent {
    return {
      action,
      outcome: 'success',
      actor: by ? { kind: 'employee', id: by.accountId, displayName: by.email } : { kind: 'employee', id: officer.claims.accountId, displayName: officer.claims.email },
      subject: { kind: 'account', id: account.accountId, displayName: account.email },
      sourceIp: source.ip,
      requestId: source.requestId,
      details,
    };
  }
}

/** Thrown inside ApproveRoleChange's unit to roll the approval back when the account's compare-and-set lost. */
class AccountChangedMeanwhile extends Error {}

function actorOf(s: AuthenticatedSession): Actor {
  return { accountId: s.claims.accountId, email: s.claims.email };
}

function checkRoles(roles: Role[]): void {
  for (const r of roles) if (!ROLES.includes(r)) throw new InvalidArgumentError('roles', `unknown role ${JSON.stringify(String(r)).slice(0, 40)}`);
  if (new Set(roles).size !== roles.length) throw new InvalidArgumentError('roles', 'lists a role twice');
}

/** Longest display name accepted (the token's `name` claim allows 200). */
const DISPLAY_NAME_MAX = 100;

/**
 * The display name the officer gives at approval (issue 13 item 5): what customers see in the
 * access log and the impersonation token, so never an e-mail address. Trimmed; refused when
 * empty, too long, with control characters, or holding an '@'.
 */
export function checkDisplayName(name: string): string {
  const n = typeof name === 'string' ? name.trim() : '';
  if (n === '') throw new InvalidArgumentError('display_name', 'is required: the name customers see when this employee supports them (e.g. "Lea Dubois")');
  if (n.length > DISPLAY_NAME_MAX) throw new InvalidArgumentError('display_name', `must be at most ${DISPLAY_NAME_MAX} characters`);
  if (/[\u0000-\u001f\u007f]/.test(n)) throw new InvalidArgumentError('display_name', 'must not contain control characters');
  if (n.includes('@')) throw new InvalidArgumentError('display_name', 'must not be an e-mail address: customers see this name, never the e-mail');
  return n;
}

function checkPhone(phone: string): void {
  if (typeof phone !== 'string' || !E164.test(phone)) throw new InvalidArgumentError('phone_number', 'must be an E.164 number: + and 7 to 15 digits, e.g. +4915112345678');
}
