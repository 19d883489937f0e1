import { PermissionDeniedError, ResourceExhaustedError, type Clock, type Transaction } from '@gatehouse/core';
import { INITIAL_THROTTLE_STATE, type AccountThrottle, type ThrottleCasStore, type ThrottleState } from '../otp/index.js';
import type { IdentityTx } from '../ports.js';

/** The one message for a locked account, on every path (ASVS 6.3.3). */
export const LOCKED_MESSAGE = 'the account is locked after too many failed attempts; the security officer must unlock it';

const MAX_CAS_ROUNDS = 8;

/** A won reservation: hand it to fail(), release() or succeed(). */
export interface Ticket {
  accountId: string;
  guard: ThrottleState;
}

/**
 * The account throttle applied to the store: every second-factor attempt reserves first
 * (a compare-and-set that counts it as a failure in advance), then settles. This is what makes
 * 50 parallel guesses evaluate at most N codes (see account-throttle.ts for the protocol).
 * Every write takes the unit of work of the attempt (issue 14): the reservation, the code's
 * consumption and the settlement commit together, with the lockout event and its revocations.
 */
export class ThrottleGuard {
  private lockHook: ((tx: IdentityTx, accountId: string) => Promise<unknown>) | undefined;

  constructor(
    private readonly store: ThrottleCasStore,
    readonly throttle: AccountThrottle,
    private readonly clock: Clock,
  ) {}

  /**
   * What happens when an account locks, besides the audit event: the wiring revokes its sessions
   * (and, through WatchRevocations, its impersonation grants), in the same unit as the lock.
   * Set once, after the session service exists.
   */
  onLock(hook: (tx: IdentityTx, accountId: string) => Promise<unknown>): void {
    this.lockHook = hook;
  }

  /** Refuses with PERMISSION_DENIED when the account is locked (paths that evaluate no code: BeginSignIn, SendSmsCode, refresh). */
  async refuseIfLocked(accountId: string, tx?: Transaction): Promise<void> {
    const state = await this.store.get(accountId, tx);
    if (this.throttle.isLocked(state)) throw new PermissionDeniedError(LOCKED_MESSAGE);
  }

  /** The state, for display (Account.lock_state). */
  state(accountId: string, tx?: Transaction): Promise<ThrottleState> {
    return this.store.get(accountId, tx);
  }

  /** Reserves one attempt, or refuses: PERMISSION_DENIED when locked, RESOURCE_EXHAUSTED (with the wait) while throttled. */
  async reserve(tx: Transaction, accountId: string): Promise<Ticket> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const state = await this.store.get(accountId, tx);
      const r = this.throttle.reserveAttempt(state, this.clock.now());
      if (!r.allowed) {
        if (r.locked) throw new PermissionDeniedError(LOCKED_MESSAGE);
        throw new ResourceExhaustedError(`too many failed attempts: wait ${Math.ceil(r.retryAfterMs / 1000)} s before the next one`, r.retryAfterMs);
      }
      if (await this.store.compareAndSet(tx, accountId, r.guard, r.next)) return { accountId, guard: r.guard };
    }
    throw new ResourceExhaustedError('too many attempts at once on this account: retry in a second', 1000);
  }

  /** The attempt failed: record the lock when the count reached the limit (and audit the lockout once). */
  async fail(tx: IdentityTx, ticket: Ticket, sourceIp: string, requestId: string): Promise<void> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const state = await this.store.get(ticket.accountId, tx);
      const settle = this.throttle.settleFailure(state, this.clock.now());
      if (!settle) return;
      if (await this.store.compareAndSet(tx, ticket.accountId, settle.transition.guard, settle.transition.next)) {
        tx.audit({
          action: 'account_lock',
          outcome: 'success',
          actor: { kind: 'system', id: 'identity' },
          subject: { kind: 'account', id: ticket.accountId },
          sourceIp,
          requestId,
          details: { consecutive_failures: String(state.consecutiveFailures), lock_after: String(this.throttle.policy.lockAfter) },
        });
        // settleFailure only writes the lock, once: the account just locked.
        await this.lockHook?.(tx, ticket.accountId);
        return;
      }
    }
  }

  /** An intermediate step succeeded: hand the reservation back without resetting earlier failures. */
  async release(tx: Transaction, ticket: Ticket): Promise<void> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const state = await this.store.get(ticket.accountId, tx);
      const t = this.throttle.releaseAttempt(state, ticket);
      if (!t) return;
      if (await this.store.compareAndSet(tx, ticket.accountId, t.guard, t.next)) return;
    }
  }

  /** The sign-in completed: reset the count, unless the account locked meanwhile (then refuse). */
  async succeed(tx: Transaction, ticket: Ticket): Promise<void> {
    if (!(await this.store.resetIfUnlocked(tx, ticket.accountId, { ...INITIAL_THROTTLE_STATE }))) throw new PermissionDeniedError(LOCKED_MESSAGE);
  }

  /** The officer's unlock: an unconditional reset. Returns the state before. */
  async unlock(tx: Transaction, accountId: string): Promise<ThrottleState> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const state = await this.store.get(accountId, tx);
      if (await this.store.compareAndSet(tx, accountId, state, this.throttle.unlock())) return state;
    }
    throw new ResourceExhaustedError('the account is being changed concurrently: retry', 1000);
  }
}
