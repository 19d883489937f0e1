import { createHash, randomBytes } from 'node:crypto';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, PermissionDeniedError, AbortedError } from '@gatehouse/core';
import { newId, type CallSource, type IdentityDeps } from '../identity-deps.js';
import { retireCredential, type OtpCredential, type ThrottleState } from '../otp/index.js';
import type { IdentityEvent } from '../ports.js';
import { checkReason, employeeActor, type AuthenticatedSession, type SessionService } from '../sessions/session-service.js';
import { ROLES, applicantAccount, type Account, type AccountFilter, type Actor, type Role } from './account.js';

/** E.164: a plus, then 7 to 15 digits, no leading zero (ITU-T E.164). */
const E164 = /^\+[1-9]\d{6,14}$/;
/** Account ids as identity makes them. */
const ACCOUNT_ID = /^acc_[A-Za-z0-9_-]{22}$/;

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
    if ((await this.d.accounts.countActiveOfficers()) > 0) return undefined;
    const now = this.d.clock.now();
    if (await this.d.bootstrap.pending(now)) return undefined;
    const token = `ghb_${randomBytes(32).toString('base64url')}`;
    await this.d.bootstrap.put(bootstrapTokenHash(token), now, new Date(now.getTime() + this.d.settings.bootstrapTokenTtlMs));
    return token;
  }

  /** BootstrapOfficer: the one-time token plus the person's Google ID token make the first security officer. */
  async bootstrapOfficer(bootstrapToken: string, idToken: string, phone: string, source: CallSource): Promise<AccountView> {
    if (typeof bootstrapToken !== 'string' || !/^ghb_[A-Za-z0-9_-]{43}$/.test(bootstrapToken)) {
      throw new PermissionDeniedError('the bootstrap token is not valid');
    }
    checkPhone(phone);
    if ((await this.d.accounts.countActiveOfficers()) > 0) throw new FailedPreconditionError('a security officer already exists: bootstrap is closed');
    const google = await this.d.google.verify(idToken);
    const now = this.d.clock.now();
    if (!(await this.d.bootstrap.consume(bootstrapTokenHash(bootstrapToken), now))) {
      await this.d.audit.record({ action: 'bootstrap_officer', outcome: 'denied', actor: { kind: 'anonymous', id: '' }, sourceIp: source.ip, requestId: source.requestId, details: { reason: 'token' } });
      throw new PermissionDeniedError('the bootstrap token is not valid, expired or already used');
    }
    const existing = await this.d.accounts.byIssuerSubject(google.issuer, google.subject);
    const accountId = existing?.accountId ?? newId('acc');
    const base: Account = existing ?? { ...applicantAccount(google, accountId, now), version: 0 };
    const self: Actor = { accountId, email: google.email };
    const account: Account = {
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
      if (!(await this.d.accounts.update(account))) throw new AbortedError('the account changed concurrently: retry with a new bootstrap token');
    } else {
      await this.d.accounts.create(account);
    }
    await this.d.audit.record({
      action: 'bootstrap_officer',
      outcome: 'success',
      actor: employeeActor(account),
      subject: { kind: 'account', id: accountId, displayName: account.email },
      sourceIp: source.ip,
      requestId: source.requestId,
      details: { phone_mask: account.phoneMask ?? '' },
    });
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

  /** ApproveAccount: a pending or suspended account may sign in, with these roles (critical). */
  async approve(officer: AuthenticatedSession, accountId: string, roles: Role[], phone: string | undefined, note: string, source: CallSource): Promise<AccountView> {
    const why = checkReason(note, false, 'note');
    checkRoles(roles);
    if (phone !== undefined) checkPhone(phone);
    const account = await this.load(accountId);
    if (account.state === 'active') throw new FailedPreconditionError('the account is already active');
    if (!account.phoneCiphertext && phone === undefined) throw new FailedPreconditionError('the account has no phone number on file: give one (the SMS step needs it)');
    const now = this.d.clock.now();
    const next: Account = {
      ...account,
      state: 'active',
      roles: [...roles],
      ...(phone !== undefined ? { phoneCiphertext: this.d.secrets.phoneCipher.encrypt(phone, accountId), phoneMask: maskPhone(phone) } : {}),
      approvedAt: now,
      approvedBy: actorOf(officer),
      suspendedAt: undefined,
      suspendedBy: undefined,
      suspensionReason: undefined,
      updatedAt: now,
      version: account.version + 1,
    };
    await this.critical(officer, next, 'account_approve', source, { roles: roles.join(','), note: why, previous_state: account.state });
    return this.viewOf(next);
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
    await this.critical(officer, next, 'account_suspend', source, { reason: why });
    const revoked = await this.sessions.revokeAllFor(accountId, actorOf(officer), `account suspended: ${why}`);
    return { view: await this.viewOf(next), revoked };
  }

  /** SetRoles: the full set, replacing the old; sessions revoked so the next sign-in carries them (critical). */
  async setRoles(officer: AuthenticatedSession, accountId: string, roles: Role[], reason: string, source: CallSource): Promise<{ view: AccountView; revoked: number }> {
    const why = checkReason(reason, true);
    checkRoles(roles);
    const account = await this.load(accountId);
    if (account.state !== 'active') throw new FailedPreconditionError('roles can only be set on an active account');
    if (account.roles.includes('security_officer') && !roles.includes('security_officer') && (await this.d.accounts.countActiveOfficers()) <= 1) {
      throw new FailedPreconditionError('this is the last active security officer: appoint another before removing the role');
    }
    const now = this.d.clock.now();
    const next: Account = { ...account, roles: [...roles], updatedAt: now, version: account.version + 1 };
    await this.critical(officer, next, 'roles_set', source, { roles: roles.join(','), previous_roles: account.roles.join(','), reason: why });
    const revoked = await this.sessions.revokeAllFor(accountId, actorOf(officer), `roles changed: ${why}`);
    return { view: await this.viewOf(next), revoked };
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
    await this.critical(officer, next, 'phone_number_set', source, { phone_mask: next.phoneMask ?? '', reason: why });
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
    const before = await this.d.throttle.unlock(accountId);
    await this.d.audit.record(
      this.officerEvent(officer, account, 'account_unlock', source, {
        note: why,
        was_locked: String(this.d.throttle.throttle.isLocked(before)),
        consecutive_failures: String(before.consecutiveFailures),
      }),
    );
    return this.viewOf(account);
  }

  /** ResetOtp: retires the active credential (lost device); the next sign-in enrols again. Sessions revoked. */
  async resetOtp(officer: AuthenticatedSession, accountId: string, reason: string, source: CallSource): Promise<{ view: AccountView; revoked: number }> {
    const why = checkReason(reason, true);
    const account = await this.load(accountId);
    const active = await this.d.credentials.byAccount(accountId, 'active');
    if (active.length === 0) throw new FailedPreconditionError('the account has no active OTP credential');
    const now = this.d.clock.now();
    for (const cred of active) {
      const t = retireCredential(cred, now);
      await this.d.credentials.compareAndSet(t.guard, t.next);
    }
    await this.d.audit.record(this.officerEvent(officer, account, 'otp_reset', source, { reason: why, credentials: active.map((c) => c.credentialId).join(',') }));
    const revoked = await this.sessions.revokeAllFor(accountId, actorOf(officer), `OTP reset: ${why}`);
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
   * then the compare-and-set applies it and its outcome event, naming the intent, says how it
   * ended (issue 13 item 6: an event says only what happened).
   */
  private async critical(officer: AuthenticatedSession, next: Account, action: IdentityEvent['action'], source: CallSource, details: Record<string, string>): Promise<void> {
    const event = this.officerEvent(officer, next, action, source, details);
    const { intentId } = await this.d.audit.confirm(event);
    if (!(await this.d.accounts.update(next))) {
      await this.d.audit.record({ ...event, intentId, outcome: 'error', details: { ...details, error: 'concurrent change: not applied' } });
      throw new AbortedError('the account was changed concurrently: reload it and retry');
    }
    await this.d.audit.record({ ...event, intentId });
  }

  private officerEvent(officer: AuthenticatedSession, account: Account, action: IdentityEvent['action'], source: CallSource, details: Record<string, string>): IdentityEvent {
    return {
      action,
      outcome: 'success',
      actor: { kind: 'employee', id: officer.claims.accountId, displayName: officer.claims.email },
      subject: { kind: 'account', id: account.accountId, displayName: account.email },
      sourceIp: source.ip,
      requestId: source.requestId,
      details,
    };
  }
}

function actorOf(s: AuthenticatedSession): Actor {
  return { accountId: s.claims.accountId, email: s.claims.email };
}

function checkRoles(roles: Role[]): void {
  for (const r of roles) if (!ROLES.includes(r)) throw new InvalidArgumentError('roles', `unknown role ${JSON.stringify(String(r)).slice(0, 40)}`);
  if (new Set(roles).size !== roles.length) throw new InvalidArgumentError('roles', 'lists a role twice');
}

function checkPhone(phone: string): void {
  if (typeof phone !== 'string' || !E164.test(phone)) throw new InvalidArgumentError('phone_number', 'must be an E.164 number: + and 7 to 15 digits, e.g. +4915112345678');
}
