import { FailedPreconditionError, InvalidArgumentError } from '@gatehouse/core';
import type { RandomSource } from '@gatehouse/core';
import { newSeed } from './otp-seed.js';
import { otpauthUri } from './otpauth-uri.js';
import type { SeedCipher } from './seed-cipher.js';
import { DEFAULT_CONFIRM_WINDOW_MS, TOTP_PERIOD_SECONDS } from './otp-types.js';
import type { OtpAlgorithm, OtpCasGuard, OtpCredential, OtpDigits, OtpKind } from './otp-types.js';

/** The issuer shown in authenticator apps. */
export const OTP_ISSUER = 'Gatehouse';

const MAX_LABEL = 64;

/** What EnrollOtp asks for, already mapped from the proto (unset algorithm = SHA1, digits 0 = 6). */
export interface EnrollmentRequest {
  credentialId: string;
  accountId: string;
  /** Shown as the account in the authenticator (the e-mail). */
  accountName: string;
  kind: OtpKind;
  algorithm: OtpAlgorithm;
  digits: OtpDigits;
  /** Device label, at most 64 characters; may be empty. */
  label?: string;
  now: Date;
  /** How long ConfirmOtpEnrollment may take (default 10 minutes). */
  confirmWindowMs?: number;
}

/** A new pending credential and the URI that carries its seed, to be shown once. */
export interface Enrollment {
  credential: OtpCredential;
  /** Secret: holds the seed. Return it once, never log or store it. */
  otpauthUri: string;
}

/**
 * Checks a kind/algorithm/digits combination EnrollOtp may accept: TOTP with SHA1/SHA256/SHA512,
 * HOTP with SHA1 only (the proto's rule: HOTP devices implement RFC 4226's HMAC-SHA-1), 6 or 8
 * digits. Throws InvalidArgumentError naming the field.
 */
export function validateEnrollment(kind: unknown, algorithm: unknown, digits: unknown): void {
  if (kind !== 'totp' && kind !== 'hotp') throw new InvalidArgumentError('kind', 'must be TOTP or HOTP');
  if (algorithm !== 'SHA1' && algorithm !== 'SHA256' && algorithm !== 'SHA512') {
    throw new InvalidArgumentError('algorithm', 'must be SHA1, SHA256 or SHA512');
  }
  if (kind === 'hotp' && algorithm !== 'SHA1') throw new InvalidArgumentError('algorithm', 'HOTP supports SHA1 only');
  if (digits !== 6 && digits !== 8) throw new InvalidArgumentError('digits', 'must be 6 or 8');
}

/**
 * EnrollOtp's domain half: a fresh 160-bit seed, encrypted at rest and bound to this credential
 * and account, a pending credential that must be confirmed before `confirmBy`, and the
 * otpauth:// URI. The clear seed is wiped before returning; only the URI still carries it.
 */
export function startEnrollment(req: EnrollmentRequest, cipher: SeedCipher, random?: RandomSource): Enrollment {
  validateEnrollment(req.kind, req.algorithm, req.digits);
  const label = req.label ?? '';
  if (label.length > MAX_LABEL) throw new InvalidArgumentError('label', `must be at most ${MAX_LABEL} characters`);
  if (/\p{Cc}/u.test(label)) throw new InvalidArgumentError('label', 'must not contain control characters');
  const window = req.confirmWindowMs ?? DEFAULT_CONFIRM_WINDOW_MS;
  if (!Number.isSafeInteger(window) || window <= 0) throw new RangeError('confirmWindowMs must be a positive integer');
  const seed = newSeed(random);
  try {
    const encryptedSeed = cipher.encrypt(seed, { credentialId: req.credentialId, accountId: req.accountId });
    const uri = otpauthUri({
      kind: req.kind,
      algorithm: req.algorithm,
      digits: req.digits,
      period: TOTP_PERIOD_SECONDS,
      counter: 0,
      issuer: OTP_ISSUER,
      account: req.accountName,
      secret: seed,
    });
    const credential: OtpCredential = {
      credentialId: req.credentialId,
      accountId: req.accountId,
      kind: req.kind,
      algorithm: req.algorithm,
      digits: req.digits,
      period: TOTP_PERIOD_SECONDS,
      label,
      encryptedSeed,
      status: 'pending',
      createdAt: req.now,
      confirmBy: new Date(req.now.getTime() + window),
      activatedAt: null,
      lastUsedAt: null,
      retiredAt: null,
      lastAcceptedStep: -1,
      counter: 0,
      driftSteps: 0,
    };
    return { credential, otpauthUri: uri };
  } finally {
    seed.destroy();
  }
}

/** The compare-and-set guard for a transition computed from `cred` (see {@link OtpCasGuard}). */
export function otpCasGuard(cred: OtpCredential): OtpCasGuard {
  return {
    credentialId: cred.credentialId,
    status: cred.status,
    lastAcceptedStep: cred.lastAcceptedStep,
    counter: cred.counter,
  };
}

/**
 * Reference semantics of the compare-and-set: true iff the stored row still matches the guard
 * field by field. Adapters implement it as a filter (`WHERE ... AND last_accepted_step = ?`,
 * `findOneAndUpdate({ _id, status, lastAcceptedStep, counter }, { $set: next })`); in-memory
 * fakes can call this directly.
 */
export function matchesOtpCasGuard(stored: OtpCredential, guard: OtpCasGuard): boolean {
  return (
    stored.credentialId === guard.credentialId &&
    stored.status === guard.status &&
    stored.lastAcceptedStep === guard.lastAcceptedStep &&
    stored.counter === guard.counter
  );
}

/** True once a pending credential's confirmation deadline has passed (then retire it). */
export function isConfirmationExpired(cred: OtpCredential, now: Date): boolean {
  return cred.status === 'pending' && cred.confirmBy !== null && now.getTime() > cred.confirmBy.getTime();
}

/** A state transition for the repository to apply with a compare-and-set on `guard`. */
export interface OtpTransition {
  guard: OtpCasGuard;
  next: Partial<OtpCredential>;
}

/**
 * Retires a credential (replaced by a newly confirmed one, reset by the officer, or never
 * confirmed). The encrypted seed is emptied: the proto promises a retired seed is destroyed.
 */
export function retireCredential(cred: OtpCredential, now: Date): OtpTransition {
  if (cred.status === 'retired') throw new FailedPreconditionError('the OTP credential is already retired');
  return {
    guard: otpCasGuard(cred),
    next: { status: 'retired', retiredAt: now, confirmBy: null, encryptedSeed: '' },
  };
}
