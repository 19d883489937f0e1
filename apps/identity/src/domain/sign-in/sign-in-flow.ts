import {
  AbortedError,
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  UnavailableError,
} from '@gatehouse/core';
import { applicantAccount, type Account } from '../accounts/account.js';
import { newId, type CallSource, type IdentityDeps } from '../identity-deps.js';
import {
  confirmEnrollment,
  resyncHotp,
  retireCredential,
  startEnrollment,
  verifyOtp,
  type OtpAlgorithm,
  type OtpCredential,
  type OtpDigits,
  type OtpKind,
  type OtpSeed,
} from '../otp/index.js';
import type { EventSubject, IdentityEvent, IdentityTx } from '../ports.js';
import { employeeActor, type AuthenticatedSession, type IssuedSession, type SessionService } from '../sessions/session-service.js';
import { checkSmsCode, issueSmsCode, smsText } from '../sms/index.js';
import { SIGN_IN_TTL_MS, type SignIn, type SignInStep } from './sign-in.js';
import type { Ticket } from './throttle-guard.js';

/**
 * The one answer for a wrong, expired, used or replayed code AND for an unknown sign-in, so
 * that nobody can tell an account or sign-in exists from the answer (ASVS 6.3.8).
 */
export const INVALID_CODE = 'the sign-in or the code is not valid (wrong, expired or already used code, or unknown sign-in)';
/** The answer for a sign-in that is unknown, expired, finished or presented from another IP. */
export const INVALID_SIGN_IN = 'the sign-in is unknown, expired, finished or bound to another client IP: begin a new sign-in';

const SIGN_IN_ID = /^si_[A-Za-z0-9_-]{22}$/;
const CREDENTIAL_ID = /^otp_[A-Za-z0-9_-]{22}$/;

/** A sign-in as the caller sees it: what is done and what is next. */
export interface SignInView {
  signIn: SignIn;
  account: Account;
  completed: SignInStep[];
  remaining: SignInStep[];
  otpKind: OtpKind | null;
}

/** Who asks for an OTP change: a sign-in in progress, or a (fresh) session. */
export type FactorMode = { signInId: string } | { session: AuthenticatedSession };

/** What VerifyOtp returns besides the session: what the holder should know. */
export interface SecurityNotice {
  kind: 'failed_attempts';
  count: number;
}

/**
 * Sign-in (DESIGN.md §3, issue 4 items 2-5): Google ID token → SMS code → (first time: OTP
 * enrolment) → OTP code → session. Every code-checking step goes through the account
 * throttle first (reserve, evaluate, settle), every single-use transition is a compare-and-set,
 * and every outcome is audited with the account as subject (what the alert rules count).
 */
export class SignInFlow {
  constructor(
    private readonly d: IdentityDeps,
    private readonly sessions: SessionService,
  ) {}

  /** BeginSignIn: verify the Google token, find (or record for approval) the account, open a sign-in bound to the client IP. */
  async begin(idToken: string, source: CallSource): Promise<SignInView> {
    const google = await this.d.google.verify(idToken);
    const found = await this.d.accounts.byIssuerSubject(google.issuer, google.subject);
    if (!found) {
      await this.recordApplicant(google, source);
      throw new PermissionDeniedError('this Google account is not approved yet: it has been recorded, and the security officer must approve it');
    }
    let account: Account = found;
    const deny = async (why: string, message: string): Promise<never> => {
      const refused = this.event('sign_in_begin', 'denied', account, source, { reason: why });
      await this.d.uow.run(async (tx) => tx.audit(refused), 'begin-sign-in-denied');
      throw new PermissionDeniedError(message);
    };
    if (account.state === 'pending_approval') return deny('pending_approval', 'this Google account is not approved yet: the security officer must approve it');
    if (account.state === 'suspended') return deny('suspended', 'this account is suspended');
    if (this.d.throttle.throttle.isLocked(await this.d.throttle.state(account.accountId))) {
      return deny('locked', 'the account is locked after too many failed attempts; the security officer must unlock it');
    }
    if (!account.phoneCiphertext) {
      throw new FailedPreconditionError('no phone number is on file for the SMS step: the security officer must set one');
    }
    // The officer's approved display name wins over the Google profile's (issue 13 item 5).
    const profileName = account.displayNameApproved ? account.displayName : (google.name ?? account.displayName);
    const now = this.d.clock.now();
    const signIn: SignIn = {
      signInId: newId('si'),
      accountId: account.accountId,
      clientIp: source.ip,
      createdAt: now,
      expiresAt: new Date(now.getTime() + SIGN_IN_TTL_MS),
      completed: ['google'],
      sms: null,
      status: 'open',
      sessionId: null,
      version: 1,
    };
    const known = account;
    account = await this.d.uow.run(async (tx) => {
      let current = known;
      if (google.email !== current.email || profileName !== current.displayName) {
        const next: Account = { ...current, email: google.email, displayName: profileName, updatedAt: now, version: current.version + 1 };
        // A lost compare-and-set keeps the stored profile: the next sign-in refreshes it.
        if (await this.d.accounts.update(tx, next)) current = next;
        tx.faultPoint('account-update');
      }
      await this.d.signIns.create(tx, signIn);
      tx.faultPoint('sign-in-create');
      tx.audit(this.event('sign_in_begin', 'success', current, source, {}, { kind: 'sign_in', id: signIn.signInId }));
      return current;
    }, 'begin-sign-in');
    return this.view(signIn, account);
  }

  /** SendSmsCode: a fresh code for the sign-in's SMS step (a resend replaces it; failures are never reset). */
  async sendSmsCode(signInId: string, source: CallSource): Promise<{ view: SignInView; codeExpiresAt: Date; retryAfterMs: number; resendsRemaining: number }> {
    const signIn = await this.openSignIn(signInId, source, INVALID_SIGN_IN);
    await this.d.throttle.refuseIfLocked(signIn.accountId);
    if (signIn.completed.includes('sms')) throw new FailedPreconditionError('the SMS step of this sign-in is already done');
    const account = await this.activeAccount(signIn.accountId);
    if (!account.phoneCiphertext) throw new FailedPreconditionError('no phone number is on file for the SMS step: the security officer must set one');
    const now = this.d.clock.now();
    const { challenge, code } = issueSmsCode(signIn.sms ?? undefined, signIn.signInId, now, this.d.secrets.smsPepper, this.d.settings.sms);
    const next: SignIn = { ...signIn, sms: challenge, version: signIn.version + 1 };
    // Two units, with the SMS sent between them: the gateway is an outside call (never inside a
    // unit, which MongoDB may re-run), and the event must say how the send ended.
    await this.d.uow.run(async (tx) => {
      if (!(await this.d.signIns.update(tx, next))) throw new AbortedError('the sign-in changed concurrently: retry');
    }, 'send-sms-code');
    const phone = this.d.secrets.phoneCipher.decrypt(account.phoneCiphertext, account.accountId);
    const subject: EventSubject = { kind: 'sign_in', id: signIn.signInId };
    try {
      await this.d.sms.send(phone, smsText(code, this.d.settings.sms.ttlMs));
    } catch (err) {
      const failed = this.event('sms_send', 'error', account, source, { sends: String(challenge.sends) }, subject);
      await this.d.uow.run(async (tx) => tx.audit(failed), 'send-sms-code-outcome');
      throw new UnavailableError('the SMS gateway did not accept the message: ask for another code after the cooldown', { cause: err });
    }
    const sent = this.event('sms_send', 'success', account, source, { sends: String(challenge.sends), phone_mask: account.phoneMask ?? '' }, subject);
    await this.d.uow.run(async (tx) => tx.audit(sent), 'send-sms-code-outcome');
    return {
      view: await this.view(next, account),
      codeExpiresAt: challenge.expiresAt,
      retryAfterMs: this.d.settings.sms.cooldownMs,
      resendsRemaining: Math.max(0, this.d.settings.sms.maxSends - challenge.sends),
    };
  }

  /** VerifySmsCode: the SMS step, throttled per account like every factor. */
  async verifySmsCode(signInId: string, code: string, source: CallSource): Promise<SignInView> {
    checkCodeShape(code);
    const signIn = await this.openSignIn(signInId, source, INVALID_CODE);
    await this.d.throttle.refuseIfLocked(signIn.accountId);
    if (signIn.completed.includes('sms')) throw new FailedPreconditionError('the SMS step of this sign-in is already done');
    if (!signIn.sms) throw new FailedPreconditionError('no SMS code was sent for this sign-in: call SendSmsCode first');
    const account = await this.activeAccount(signIn.accountId);
    const sms = signIn.sms;
    // Reserve, check, consume and settle in one unit: a refusal commits its failure count and event.
    const next = await this.d.uow.run(async (tx) => {
      const ticket = await this.d.throttle.reserve(tx, signIn.accountId);
      tx.faultPoint('throttle-reserve');
      const checked = checkSmsCode(sms, code, this.d.clock.now(), this.d.secrets.smsPepper);
      const done: SignIn | undefined = checked.ok ? { ...signIn, sms: checked.next, completed: [...signIn.completed, 'sms'], version: signIn.version + 1 } : undefined;
      if (!done || !(await this.d.signIns.update(tx, done))) {
        await this.failed(tx, ticket, 'sms_verify', account, source, checked.ok ? 'used' : checked.reason);
        return undefined;
      }
      tx.faultPoint('sign-in-update');
      await this.d.throttle.release(tx, ticket);
      tx.audit(this.event('sms_verify', 'success', account, source, {}, { kind: 'sign_in', id: signIn.signInId }));
      return done;
    }, 'verify-sms-code');
    if (!next) {
      this.sessions.revocationsCommitted();
      throw new UnauthenticatedError(INVALID_CODE);
    }
    return this.view(next, account);
  }

  /**
   * VerifyOtp: the last step. On success the sign-in is consumed (compare-and-set), the throttle
   * reset (unless it locked meanwhile) and the session issued.
   */
  async verifyOtp(signInId: string, code: string, source: CallSource): Promise<{ session: IssuedSession; notices: SecurityNotice[] }> {
    checkCodeShape(code);
    // The reads in a unit of their own, which writes nothing (issue 14 item 7): a read outside a
    // unit may see only durable data, so on SQLite each of the four ends the open group-commit
    // batch and holds the store's lock for an event-loop turn while its callers hear OK; under
    // concurrent sign-ins those stalls doubled the units' wait for the store. In a unit the reads
    // join the batch, and the unit resolves only once that batch is durable, so what it read is
    // durable too. It commits no row: the step's state still commits in the one unit below.
    const { signIn, account, cred } = await this.d.uow.run(async (tx) => {
      const found = await this.openSignIn(signInId, source, INVALID_CODE, tx);
      await this.d.throttle.refuseIfLocked(found.accountId, tx);
      if (!found.completed.includes('sms')) throw new FailedPreconditionError('the SMS step of this sign-in is not done');
      const holder = await this.activeAccount(found.accountId, tx);
      const active = await this.activeCredential(holder.accountId, tx);
      if (!active) throw new FailedPreconditionError('no OTP credential is active: enrol one first (EnrollOtp)');
      return { signIn: found, account: holder, cred: active };
    }, 'verify-otp-read');
    // Outside calls first (the allowlist decides the scope; the signing key may be created), so
    // the unit below holds store writes only and may be re-run by MongoDB.
    const prep = await this.sessions.prepareIssue(account, source);
    const sessionId = newId('ses');
    const amr = ['google', 'sms', cred.kind];
    // Issue 14 item 4: ONE unit of work for the whole step: throttle reservation, the code's
    // compare-and-set, the sign-in's compare-and-set, the throttle reset, the session record,
    // the account's last sign-in and every event. A refused code commits its failure (count,
    // maybe the lock and its revocations, events); a crash leaves all of it or none of it.
    const outcome = await this.d.uow.run(async (tx): Promise<{ ok: true; session: IssuedSession; earlier: number } | { ok: false }> => {
      const ticket = await this.d.throttle.reserve(tx, account.accountId);
      tx.faultPoint('throttle-reserve');
      const now = this.d.clock.now();
      const result = this.withSeed(cred, (seed) => verifyOtp(cred, seed, code, now));
      const won = result.ok && (await this.d.credentials.compareAndSet(tx, result.guard, { ...result.next, lastUsedAt: now }));
      if (!won) {
        // A lost compare-and-set means a parallel request used this code first: it is a replay.
        const reason = result.ok ? 'replayed' : result.reason;
        if (reason === 'replayed') {
          tx.audit(this.event('otp_replay', 'denied', account, source, { credential_id: cred.credentialId }, { kind: 'account', id: account.accountId }));
        }
        await this.failed(tx, ticket, 'otp_verify', account, source, reason);
        return { ok: false };
      }
      tx.faultPoint('credential-cas');
      const finished: SignIn = { ...signIn, status: 'completed', completed: [...signIn.completed, 'otp'], sessionId, version: signIn.version + 1 };
      if (!(await this.d.signIns.update(tx, finished))) {
        await this.failed(tx, ticket, 'otp_verify', account, source, 'sign_in_used');
        return { ok: false };
      }
      tx.faultPoint('sign-in-cas');
      // Locked meanwhile: throws, and the whole unit (code, sign-in) rolls back.
      await this.d.throttle.succeed(tx, ticket);
      tx.faultPoint('throttle-reset');
      const session = await this.sessions.issueIn(tx, account, amr, source, prep, sessionId);
      tx.audit(this.event('otp_verify', 'success', account, source, { kind: cred.kind, drift: String(result.ok && result.kind === 'totp' ? result.drift : 0) }));
      await this.d.accounts.update(tx, { ...account, lastSignInAt: now, updatedAt: now, version: account.version + 1 });
      tx.faultPoint('account-update');
      return { ok: true, session, earlier: ticket.guard.consecutiveFailures };
    }, 'verify-otp');
    if (!outcome.ok) {
      this.sessions.revocationsCommitted();
      throw new UnauthenticatedError(INVALID_CODE);
    }
    const { session, earlier } = outcome;
    return { session, notices: earlier > 0 ? [{ kind: 'failed_attempts', count: earlier }] : [] };
  }

  /**
   * EnrollOtp: a new pending credential and its otpauth:// URI (shown once). During a sign-in
   * only for an account without an active credential, after the SMS step; otherwise with a
   * FULL session whose sign-in is fresh (changing a second factor needs a fresh sign-in).
   */
  async enroll(
    mode: FactorMode,
    req: { kind: OtpKind; algorithm: OtpAlgorithm; digits: OtpDigits; label: string },
    source: CallSource,
  ): Promise<{ credential: OtpCredential; otpauthUri: string }> {
    const account = await this.factorAccount(mode, source, 'enrol');
    if ('signInId' in mode && (await this.activeCredential(account.accountId))) {
      throw new FailedPreconditionError('an OTP credential is already active: changing it needs a FULL session from a fresh sign-in (gatehouse otp enroll)');
    }
    const now = this.d.clock.now();
    const enrollment = startEnrollment(
      { credentialId: newId('otp'), accountId: account.accountId, accountName: account.email, kind: req.kind, algorithm: req.algorithm, digits: req.digits, label: req.label, now },
      this.d.seedCipher,
    );
    await this.d.uow.run(async (tx) => {
      // Earlier unconfirmed enrolments die: one pending credential per account at a time.
      for (const old of await this.d.credentials.byAccount(account.accountId, 'pending', tx)) {
        const t = retireCredential(old, now);
        await this.d.credentials.compareAndSet(tx, t.guard, t.next);
      }
      await this.d.credentials.create(tx, enrollment.credential);
      tx.faultPoint('credential-create');
      tx.audit(
        this.event(
          'otp_enroll',
          'success',
          account,
          source,
          { kind: req.kind, algorithm: req.algorithm, digits: String(req.digits), mode: 'signInId' in mode ? 'sign_in' : 'session' },
          { kind: 'otp_credential', id: enrollment.credential.credentialId },
        ),
      );
    }, 'enroll-otp');
    return { credential: enrollment.credential, otpauthUri: enrollment.otpauthUri };
  }

  /** ConfirmOtpEnrollment: one valid code activates the credential, which replaces the active one. */
  async confirm(mode: FactorMode, credentialId: string, code: string, source: CallSource): Promise<{ credential: OtpCredential; view: SignInView | null }> {
    checkCodeShape(code);
    if (!CREDENTIAL_ID.test(credentialId)) throw new InvalidArgumentError('credential_id', 'is not a credential id (otp_…)');
    const account = await this.factorAccount(mode, source, 'confirm');
    const cred = await this.d.credentials.get(credentialId);
    if (!cred || cred.accountId !== account.accountId) throw new NotFoundError('no such OTP credential for this account');
    if (cred.status !== 'pending') throw new FailedPreconditionError('the OTP credential is not pending confirmation');
    const now = this.d.clock.now();
    // Reserve, check, activate (retiring the old credential), settle, and in a sign-in mark the
    // enrolment step: one unit. A wrong code commits its failure; a bad seed rolls it all back.
    const done = await this.d.uow.run(async (tx) => {
      const ticket = await this.d.throttle.reserve(tx, account.accountId);
      tx.faultPoint('throttle-reserve');
      const result = this.withSeed(cred, (seed) => confirmEnrollment(cred, seed, code, now));
      const won = result.ok && (await this.d.credentials.compareAndSet(tx, result.guard, { ...result.next, lastUsedAt: now }));
      if (!won) {
        await this.failed(tx, ticket, 'otp_confirm', account, source, result.ok ? 'replayed' : result.reason);
        return undefined;
      }
      tx.faultPoint('credential-cas');
      for (const old of await this.d.credentials.byAccount(account.accountId, 'active', tx)) {
        if (old.credentialId === cred.credentialId) continue;
        const t = retireCredential(old, now);
        await this.d.credentials.compareAndSet(tx, t.guard, t.next);
      }
      await this.d.throttle.release(tx, ticket);
      const signIn = 'signInId' in mode ? await this.markEnrolled(tx, mode.signInId, source) : undefined;
      tx.audit(this.event('otp_confirm', 'success', account, source, { kind: cred.kind }, { kind: 'otp_credential', id: cred.credentialId }));
      return { signIn };
    }, 'confirm-otp-enrollment');
    if (!done) {
      this.sessions.revocationsCommitted();
      throw new UnauthenticatedError(INVALID_CODE);
    }
    const activated = (await this.d.credentials.get(cred.credentialId)) ?? cred;
    if (!done.signIn) return { credential: activated, view: null };
    return { credential: activated, view: await this.view(done.signIn, account) };
  }

  /** ResyncHotp (RFC 4226 §7.4): two consecutive codes beyond the look-ahead move the counter; failures count. */
  async resync(mode: FactorMode, first: string, second: string, source: CallSource): Promise<{ credential: OtpCredential; view: SignInView | null }> {
    checkCodeShape(first, 'first_code');
    checkCodeShape(second, 'second_code');
    const account = await this.factorAccount(mode, source, 'resync');
    const cred = await this.activeCredential(account.accountId);
    if (!cred) throw new FailedPreconditionError('no OTP credential is active');
    if (cred.kind !== 'hotp') throw new FailedPreconditionError('the active OTP credential is TOTP, not HOTP: only HOTP counters can be resynchronised');
    const won = await this.d.uow.run(async (tx) => {
      const ticket = await this.d.throttle.reserve(tx, account.accountId);
      tx.faultPoint('throttle-reserve');
      const result = this.withSeed(cred, (seed) => resyncHotp(cred, seed, first, second, this.d.settings.maxResync));
      if (!(result.ok && (await this.d.credentials.compareAndSet(tx, result.guard, result.next)))) {
        await this.failed(tx, ticket, 'hotp_resync', account, source, result.ok ? 'replayed' : result.reason);
        return false;
      }
      tx.faultPoint('credential-cas');
      await this.d.throttle.release(tx, ticket);
      tx.audit(this.event('hotp_resync', 'success', account, source, {}, { kind: 'otp_credential', id: cred.credentialId }));
      return true;
    }, 'resync-hotp');
    if (!won) {
      this.sessions.revocationsCommitted();
      throw new UnauthenticatedError('the two codes are not consecutive codes of the credential within the resync range');
    }
    const updated = (await this.d.credentials.get(cred.credentialId)) ?? cred;
    if (!('signInId' in mode)) return { credential: updated, view: null };
    const signIn = await this.openSignIn(mode.signInId, source, INVALID_SIGN_IN);
    return { credential: updated, view: await this.view(signIn, account) };
  }

  /** The state of a sign-in for display. */
  async view(signIn: SignIn, account: Account): Promise<SignInView> {
    const cred = await this.activeCredential(account.accountId);
    const remaining: SignInStep[] = [];
    if (signIn.status === 'open') {
      if (!signIn.completed.includes('sms')) remaining.push('sms');
      if (!cred && !signIn.completed.includes('otp_enrollment')) remaining.push('otp_enrollment');
      remaining.push('otp');
    }
    return { signIn, account, completed: [...signIn.completed], remaining, otpKind: cred?.kind ?? null };
  }

  private async recordApplicant(google: { issuer: string; subject: string; email: string; name?: string; hostedDomain?: string }, source: CallSource): Promise<Account> {
    const now = this.d.clock.now();
    const account = applicantAccount(google, newId('acc'), now);
    try {
      await this.d.uow.run(async (tx) => {
        await this.d.accounts.create(tx, account);
        tx.faultPoint('account-create');
        tx.audit(this.event('account_request', 'success', account, source, { hosted_domain: account.hostedDomain }));
      }, 'request-account');
    } catch (err) {
      // Recorded meanwhile by a parallel sign-in (its unit has the event): read it after ours rolled back.
      if (err instanceof AlreadyExistsError) return (await this.d.accounts.byIssuerSubject(google.issuer, google.subject)) ?? account;
      throw err;
    }
    return account;
  }

  /** The sign-in named by `signInId` if it is open, unexpired and presented from its bound IP; otherwise UNAUTHENTICATED with `message`. */
  private async openSignIn(signInId: string, source: CallSource, message: string, tx?: IdentityTx): Promise<SignIn> {
    if (typeof signInId !== 'string' || !SIGN_IN_ID.test(signInId)) {
      if (typeof signInId === 'string' && signInId.length > 0 && signInId.length <= 64 && /^si_/.test(signInId)) throw new UnauthenticatedError(message);
      throw new InvalidArgumentError('sign_in_id', 'is not a sign-in id (si_ followed by 22 base64url characters)');
    }
    const s = await this.d.signIns.get(signInId, tx);
    if (!s || s.status !== 'open' || s.expiresAt.getTime() <= this.d.clock.now().getTime() || s.clientIp !== source.ip) {
      throw new UnauthenticatedError(message);
    }
    return s;
  }

  private async activeAccount(accountId: string, tx?: IdentityTx): Promise<Account> {
    const account = await this.d.accounts.byId(accountId, tx);
    if (!account || account.state !== 'active') throw new PermissionDeniedError(account?.state === 'suspended' ? 'this account is suspended' : 'this account is not active');
    return account;
  }

  private async activeCredential(accountId: string, tx?: IdentityTx): Promise<OtpCredential | undefined> {
    return (await this.d.credentials.byAccount(accountId, 'active', tx))[0];
  }

  /** The account an OTP change is for: a sign-in past its SMS step, or a FULL (and, to enrol, fresh) session. */
  private async factorAccount(mode: FactorMode, source: CallSource, what: 'enrol' | 'confirm' | 'resync'): Promise<Account> {
    if ('signInId' in mode) {
      const signIn = await this.openSignIn(mode.signInId, source, INVALID_SIGN_IN);
      await this.d.throttle.refuseIfLocked(signIn.accountId);
      if (!signIn.completed.includes('sms')) throw new FailedPreconditionError('the SMS step of this sign-in is not done');
      return this.activeAccount(signIn.accountId);
    }
    const { claims } = mode.session;
    if (claims.scope !== 'full') throw new PermissionDeniedError("a full session is required; this session may only register today's IP");
    if (what !== 'resync' && this.d.clock.now().getTime() - claims.authTime.getTime() > this.d.settings.freshSignInMs) {
      throw new FailedPreconditionError(
        `changing a second factor needs a fresh sign-in (within the last ${Math.round(this.d.settings.freshSignInMs / 60_000)} min): sign in again, then enrol`,
      );
    }
    await this.d.throttle.refuseIfLocked(claims.accountId);
    return this.activeAccount(claims.accountId);
  }

  private async markEnrolled(tx: IdentityTx, signInId: string, source: CallSource): Promise<SignIn> {
    for (let round = 0; round < 5; round++) {
      const s = await this.openSignIn(signInId, source, INVALID_SIGN_IN, tx);
      if (s.completed.includes('otp_enrollment')) return s;
      const next: SignIn = { ...s, completed: [...s.completed, 'otp_enrollment'], version: s.version + 1 };
      if (await this.d.signIns.update(tx, next)) return next;
    }
    throw new AbortedError('the sign-in changed concurrently: retry');
  }

  private withSeed<T>(cred: OtpCredential, f: (seed: OtpSeed) => T): T {
    const seed = this.d.seedCipher.decrypt(cred.encryptedSeed, { credentialId: cred.credentialId, accountId: cred.accountId });
    try {
      return f(seed);
    } finally {
      seed.destroy();
    }
  }

  /** A refused code, in the attempt's unit: settle the throttle (maybe locking) and stage the failure against the account. */
  private async failed(tx: IdentityTx, ticket: Ticket, action: 'sms_verify' | 'otp_verify' | 'otp_confirm' | 'hotp_resync', account: Account, source: CallSource, reason: string): Promise<void> {
    await this.d.throttle.fail(tx, ticket, source.ip, source.requestId);
    tx.audit(this.event(action, 'failure', account, source, { reason }, { kind: 'account', id: account.accountId }));
  }

  private event(
    action: IdentityEvent['action'],
    outcome: IdentityEvent['outcome'],
    account: Account,
    source: CallSource,
    details: Record<string, string>,
    subject: EventSubject = { kind: 'account', id: account.accountId },
  ): IdentityEvent {
    return { action, outcome, actor: employeeActor(account), subject, sourceIp: source.ip, requestId: source.requestId, details };
  }
}

/** A code field: digits only, 6 to 10 of them; anything else is INVALID_ARGUMENT before any lookup. */
function checkCodeShape(code: string, field = 'code'): void {
  if (typeof code !== 'string' || !/^\d{6,10}$/.test(code)) throw new InvalidArgumentError(field, 'must be 6 to 10 digits');
}
