/**
 * Failed-attempt throttling per ACCOUNT, shared by every second-factor path: SMS, TOTP, HOTP,
 * resync and enrolment confirmation (RFC 4226 §7.3, NIST SP 800-63B §3.2.2, ASVS 6.3.3). It is
 * keyed by the account, not the sign-in, session or connection, so parallel or repeated
 * sign-ins share one budget.
 *
 * Rules:
 * - The first `freeFailures` consecutive failures cost nothing; after that each failure doubles
 *   the wait before the next attempt is evaluated (`baseDelayMs`, 2×, 4×, ... capped at
 *   `maxDelayMs`).
 * - At `lockAfter` (≤ 100) consecutive failures the account is locked on every path until the
 *   officer's UnlockAccount; there is no automatic unlock.
 * - Only a completed sign-in (the session is issued, every factor passed) or UnlockAccount
 *   resets the count. A success on one step (an SMS code, a confirmation, a resync) does NOT:
 *   otherwise someone holding one factor could reset the budget for guessing the other. A new
 *   SMS code does not reset it either.
 * - Hence, without every factor, nobody can fail more than `lockAfter` ≤ 100 times before the
 *   officer steps in, which also bounds failures per hour (ASVS 4.0.3 2.2.1: ≤ 100 an hour).
 *
 * Concurrency (the repository's half; see {@link AccountThrottle.reserveAttempt}): a code is
 * evaluated only after an attempt was RESERVED, i.e. the failure count was incremented by a
 * compare-and-set on the state that was read. Each count value can be won by one request only,
 * so N parallel guesses against one account can never all see "0 failures".
 */

/** Throttle state of one account, as stored. `null` means "not set" (clearable in an update). */
export interface ThrottleState {
  /** Consecutive failures (reserved attempts included) since the last completed sign-in or unlock. */
  consecutiveFailures: number;
  /** When the lock began; null unless locked. */
  lockedAt: Date | null;
  /** No attempt is evaluated before this instant; null when no delay applies. */
  nextAttemptAt: Date | null;
}

/** The throttling configuration. */
export interface ThrottlePolicy {
  /** Lock at this many consecutive failures; 1..100 (NIST §3.2.2). Default 10. */
  lockAfter: number;
  /** Failures that cost no delay before the exponential delays start. Default 3. */
  freeFailures: number;
  /** The first delay. Default 1 s. */
  baseDelayMs: number;
  /** Cap of the delays. Default 15 min. */
  maxDelayMs: number;
}

/** Defaults: 3 free failures, then 1 s, 2 s, 4 s, ... and a lock at the 10th consecutive failure. */
export const DEFAULT_THROTTLE_POLICY: Readonly<ThrottlePolicy> = Object.freeze({
  lockAfter: 10,
  freeFailures: 3,
  baseDelayMs: 1000,
  maxDelayMs: 15 * 60_000,
});

/** NIST SP 800-63B §3.2.2: no more than 100 consecutive failed attempts on one account. */
export const MAX_LOCK_AFTER = 100;

/** The state of an account that never failed (also what a reset returns). */
export const INITIAL_THROTTLE_STATE: Readonly<ThrottleState> = Object.freeze({
  consecutiveFailures: 0,
  lockedAt: null,
  nextAttemptAt: null,
});

/** Whether an attempt may be evaluated now. */
export type ThrottleDecision =
  | { allowed: true }
  | { allowed: false; locked: false; retryAfterMs: number }
  | { allowed: false; locked: true };

/**
 * A won-or-lost reservation. On `allowed`, write `next` with a compare-and-set on `guard`
 * (every field equal to what was read); only if that write applied may the code be evaluated.
 */
export type Reservation =
  | { allowed: true; guard: ThrottleState; next: ThrottleState }
  | { allowed: false; locked: false; retryAfterMs: number }
  | { allowed: false; locked: true };

/** A write for the repository: apply `next` iff the stored state still equals `guard`. */
export interface ThrottleTransition {
  guard: ThrottleState;
  next: ThrottleState;
}

/** Reference semantics of the throttle compare-and-set: every field equal (dates by instant). */
export function throttleStatesEqual(a: ThrottleState, b: ThrottleState): boolean {
  return a.consecutiveFailures === b.consecutiveFailures && sameInstant(a.lockedAt, b.lockedAt) && sameInstant(a.nextAttemptAt, b.nextAttemptAt);
}

/** Account throttling under one policy. Pure: every method maps a state (and the time) to a decision or a new state. */
export class AccountThrottle {
  readonly policy: Readonly<ThrottlePolicy>;

  constructor(policy: Partial<ThrottlePolicy> = {}) {
    const p = { ...DEFAULT_THROTTLE_POLICY, ...policy };
    if (!Number.isSafeInteger(p.lockAfter) || p.lockAfter < 1 || p.lockAfter > MAX_LOCK_AFTER) {
      throw new RangeError(`lockAfter must be an integer from 1 to ${MAX_LOCK_AFTER}`);
    }
    if (!Number.isSafeInteger(p.freeFailures) || p.freeFailures < 0) throw new RangeError('freeFailures must be a non-negative integer');
    if (!Number.isSafeInteger(p.baseDelayMs) || p.baseDelayMs <= 0) throw new RangeError('baseDelayMs must be a positive integer');
    if (!Number.isSafeInteger(p.maxDelayMs) || p.maxDelayMs < p.baseDelayMs) throw new RangeError('maxDelayMs must be an integer ≥ baseDelayMs');
    this.policy = Object.freeze(p);
  }

  /** Locked: by a recorded lock, or because the count reached lockAfter (fail closed if the lock write was lost). */
  isLocked(state: ThrottleState): boolean {
    return state.lockedAt !== null || state.consecutiveFailures >= this.policy.lockAfter;
  }

  /** The wait imposed after `failures` consecutive failures: 0 for the first `freeFailures`, then doubling from baseDelayMs up to maxDelayMs. */
  delayAfter(failures: number): number {
    const over = failures - this.policy.freeFailures;
    if (over <= 0) return 0;
    // 2^(over-1) overflows nothing up to over = 100, and the cap applies long before.
    return Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** Math.min(over - 1, 60));
  }

  /**
   * May an attempt be made now? Every second-factor path asks (SMS, TOTP, HOTP, resync,
   * confirmation) and so does session refresh for the lock (ASVS 6.3.3). This is the read-only
   * view (for messages and RefreshSession); to evaluate a code, use reserveAttempt.
   */
  checkAllowed(state: ThrottleState, now: Date): ThrottleDecision {
    if (this.isLocked(state)) return { allowed: false, locked: true };
    if (state.nextAttemptAt !== null && state.nextAttemptAt.getTime() > now.getTime()) {
      return { allowed: false, locked: false, retryAfterMs: state.nextAttemptAt.getTime() - now.getTime() };
    }
    return { allowed: true };
  }

  /**
   * One failed attempt, in sequential terms: the count goes up, the next delay is set, and the
   * account locks when the count reaches lockAfter. The concurrent protocol (reserveAttempt,
   * then settleFailure) reaches the same state.
   */
  recordFailure(state: ThrottleState, now: Date): ThrottleState {
    const failures = state.consecutiveFailures + 1;
    if (failures >= this.policy.lockAfter || state.lockedAt !== null) {
      return { consecutiveFailures: failures, lockedAt: state.lockedAt ?? now, nextAttemptAt: null };
    }
    return { consecutiveFailures: failures, lockedAt: null, nextAttemptAt: this.nextAttemptAfter(failures, now) };
  }

  /**
   * The reset after a COMPLETED sign-in (every factor passed, the session is about to be
   * issued). Not for a success on an intermediate step: see releaseAttempt. The repository
   * applies it only if the account is still unlocked (`WHERE locked_at IS NULL`, MongoDB
   * `{ _id, lockedAt: null }`); if that matched nothing, the account locked while this attempt
   * was in flight, and the sign-in is refused: a lock is lifted only by the officer.
   */
  recordSuccess(_state: ThrottleState): ThrottleState {
    return { ...INITIAL_THROTTLE_STATE };
  }

  /** The officer's UnlockAccount: an unconditional reset (the service emits the unlock notification). */
  unlock(): ThrottleState {
    return { ...INITIAL_THROTTLE_STATE };
  }

  /**
   * Step 1 of every attempt, BEFORE the code is looked at: reserve it by counting it as a
   * failure in advance. Decided from the incremented count: the reservation that takes the
   * count to n is allowed only if the account is not locked (n ≤ lockAfter) and the delay set
   * by the previous reservation has passed; it sets the delay that applies if this attempt
   * fails too. The repository writes `next` with a compare-and-set on `guard`:
   *
   *   UPDATE throttle SET consecutive_failures = :n, next_attempt_at = :t, locked_at = NULL
   *    WHERE account_id = :a AND consecutive_failures = :n-1
   *      AND locked_at IS :guard.lockedAt AND next_attempt_at IS :guard.nextAttemptAt
   *   (MongoDB: findOneAndUpdate({ _id, consecutiveFailures, lockedAt, nextAttemptAt }, { $set: next }))
   *
   * If the write did not apply, someone else took that count: re-read and call again (a few
   * times at most), else answer RESOURCE_EXHAUSTED. Never evaluate a code without a won
   * reservation. Then: failure → settleFailure; completed sign-in → recordSuccess; success of
   * an intermediate step → releaseAttempt.
   */
  reserveAttempt(state: ThrottleState, now: Date): Reservation {
    const decision = this.checkAllowed(state, now);
    if (!decision.allowed) return decision;
    const failures = state.consecutiveFailures + 1;
    return {
      allowed: true,
      guard: copy(state),
      // No lockedAt here even when failures reaches lockAfter: the lock takes effect through
      // the count at once (isLocked), and lockedAt is written when the failure is confirmed.
      next: { consecutiveFailures: failures, lockedAt: null, nextAttemptAt: this.nextAttemptAfter(failures, now) },
    };
  }

  /**
   * Step 2 after an evaluated attempt FAILED. The count was already raised by the reservation
   * (and with it the delay), so the only thing left is to record the lock once the count has
   * reached lockAfter: `lockedAt`, for the proto's locked_at and the lockout audit event
   * (`becameLocked`). Returns undefined when there is nothing to write. Apply with a
   * compare-and-set on `guard`; on a miss, re-read and call again.
   */
  settleFailure(state: ThrottleState, now: Date): { transition: ThrottleTransition; becameLocked: true } | undefined {
    if (state.consecutiveFailures < this.policy.lockAfter || state.lockedAt !== null) return undefined;
    return { transition: { guard: copy(state), next: { ...copy(state), lockedAt: now, nextAttemptAt: null } }, becameLocked: true };
  }

  /**
   * Step 2 after an intermediate step SUCCEEDED (SMS code, enrolment confirmation, resync): the
   * attempt was not a failure, so the reservation is handed back, without resetting earlier
   * failures. The delay goes back to what the previous failures imposed. Apply with a
   * compare-and-set on `guard`; on a miss, re-read and call again. An attempt whose account
   * locked meanwhile stays locked.
   */
  releaseAttempt(state: ThrottleState, reservation: { guard: ThrottleState }): ThrottleTransition | undefined {
    if (state.lockedAt !== null || state.consecutiveFailures === 0) return undefined;
    const failures = state.consecutiveFailures - 1;
    // If nobody failed since, the delay before our reservation is exactly the one to restore.
    const untouched = failures === reservation.guard.consecutiveFailures;
    return {
      guard: copy(state),
      next: { consecutiveFailures: failures, lockedAt: null, nextAttemptAt: untouched ? reservation.guard.nextAttemptAt : state.nextAttemptAt },
    };
  }

  private nextAttemptAfter(failures: number, now: Date): Date | null {
    const delay = this.delayAfter(failures);
    return delay === 0 ? null : new Date(now.getTime() + delay);
  }
}

function sameInstant(a: Date | null, b: Date | null): boolean {
  return a === null || b === null ? a === b : a.getTime() === b.getTime();
}

function copy(state: ThrottleState): ThrottleState {
  return { consecutiveFailures: state.consecutiveFailures, lockedAt: state.lockedAt, nextAttemptAt: state.nextAttemptAt };
}
