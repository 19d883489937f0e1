import type { Transaction } from '@gatehouse/core';
import type { ThrottleState } from './account-throttle.js';
import type { OtpCasGuard, OtpCredential } from './otp-types.js';

/**
 * The storage operations the OTP transitions need, stated as ports so that both adapters
 * (SQLite, MongoDB) implement the same compare-and-set and one contract suite can check them.
 * Every write is a SINGLE-DOCUMENT compare-and-set (REQUIREMENTS "Durability under failover":
 * findOneAndUpdate with a state filter, `w: majority, j: true`), never read-modify-write. They run inside the use case's unit of
 * work (issue 14); the guard is still checked by the write itself, so two units never both win.
 */
export interface OtpCredentialCasStore {
  /** The credential as stored now, or undefined. */
  get(credentialId: string, tx?: Transaction): Promise<OtpCredential | undefined>;
  /**
   * Applies `next` iff the stored row still has guard.status, guard.lastAcceptedStep and
   * guard.counter (and the id): `UPDATE otp_credentials SET ... WHERE credential_id = ? AND
   * status = ? AND last_accepted_step = ? AND counter = ?` /
   * `findOneAndUpdate({ _id, status, lastAcceptedStep, counter }, { $set: next })`.
   * Resolves true only when the write applied and is durable. false means another request won:
   * re-read, re-verify (the code then reads as `replayed`), never report success.
   */
  compareAndSet(tx: Transaction, guard: OtpCasGuard, next: Partial<OtpCredential>): Promise<boolean>;
}

/** Throttle state per account (it may live on the account row). */
export interface ThrottleCasStore {
  /**
   * The account's throttle state; INITIAL_THROTTLE_STATE when nothing is stored yet. With a tx,
   * the first thing a second-factor unit reads: an adapter may serialize the account's units here.
   */
  get(accountId: string, tx?: Transaction): Promise<ThrottleState>;
  /**
   * Writes `next` iff the stored state equals `guard` in every field (consecutiveFailures,
   * lockedAt, nextAttemptAt; dates compared by instant). When no state is stored, a guard equal
   * to INITIAL_THROTTLE_STATE matches "absent" and the write is an insert that a unique key on
   * the account id makes single-winner. Resolves true only when it applied and is durable.
   */
  compareAndSet(tx: Transaction, accountId: string, guard: ThrottleState, next: ThrottleState): Promise<boolean>;
  /**
   * The completed-sign-in reset: writes `next` iff the account is not locked (lockedAt is null).
   * false means it locked meanwhile: refuse the sign-in.
   */
  resetIfUnlocked(tx: Transaction, accountId: string, next: ThrottleState): Promise<boolean>;
}

/** The OTP credential port plus what the service needs to create and find credentials. */
export interface OtpCredentialRepository extends OtpCredentialCasStore {
  /** Inserts a new (pending) credential; AlreadyExistsError if the id is taken. */
  create(tx: Transaction, cred: OtpCredential): Promise<void>;
  /** The account's credentials in a status (the active one, or pending enrolments). */
  byAccount(accountId: string, status: OtpCredential['status'], tx?: Transaction): Promise<OtpCredential[]>;
}
