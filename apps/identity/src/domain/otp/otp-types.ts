/** TOTP (RFC 6238) or HOTP (RFC 4226): the two kinds EnrollOtp offers (issue 4 item 4). */
export type OtpKind = 'totp' | 'hotp';

/** HMAC of the credential. HOTP accepts SHA1 only (identity_service.proto OtpAlgorithm). */
export type OtpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

/** Digits per code. Six is what every authenticator shows; eight for the RFC 6238 vectors. */
export type OtpDigits = 6 | 8;

/**
 * Life cycle of a credential. `pending` until ConfirmOtpEnrollment proves the device holds the
 * seed; `retired` when replaced, reset or never confirmed (its seed is destroyed).
 */
export type OtpStatus = 'pending' | 'active' | 'retired';

/** Clock drift, in time steps, seen at the last accepted TOTP code (RFC 6238 §6). */
export type OtpDrift = -1 | 0 | 1;

/** TOTP time step in seconds: fixed at 30, the only step authenticator apps agree on. */
export const TOTP_PERIOD_SECONDS = 30;
/** Steps accepted either side of the server's step: ±1, RFC 6238 §5.2 (REQUIREMENTS "Clock drift"). */
export const TOTP_WINDOW_STEPS = 1;
/** HOTP look-ahead s (RFC 4226 §7.4): counter..counter+10 accepted. */
export const HOTP_LOOK_AHEAD = 10;
/** Default resync range for two consecutive HOTP codes beyond the look-ahead. */
export const HOTP_DEFAULT_MAX_RESYNC = 100;
/** Upper bound on the resync range: each counter costs an HMAC, so a config typo must not become a DoS. */
export const HOTP_MAX_RESYNC_LIMIT = 1000;
/** Seed size: 160 bits, RFC 4226 §4 R6 recommendation (NIST SP 800-63B §3.1.4.1: at least 128). */
export const SEED_BYTES = 20;
/** Smallest seed we ever accept (128 bits, RFC 4226 §4 R6; otplib throws below it too). */
export const MIN_SEED_BYTES = 16;
/** Largest seed we accept (the 64-byte RFC 6238 SHA-512 seed; otplib's guardrail). */
export const MAX_SEED_BYTES = 64;
/** How long a pending credential waits for ConfirmOtpEnrollment by default. */
export const DEFAULT_CONFIRM_WINDOW_MS = 10 * 60_000;

/**
 * One OTP credential as stored (the seed only encrypted). The repository persists it; the
 * domain computes transitions (`next` partials) that the repository applies with a
 * compare-and-set on {@link OtpCasGuard}. Fields that a transition clears are `null`, never
 * absent, so a partial update can say "clear" unambiguously.
 *
 * There is deliberately no failure counter here: throttling is per ACCOUNT and shared by every
 * second-factor path (see account-throttle.ts), so switching credential or path gains nothing.
 */
export interface OtpCredential {
  credentialId: string;
  accountId: string;
  kind: OtpKind;
  algorithm: OtpAlgorithm;
  digits: OtpDigits;
  /** TOTP step in seconds (always 30); carried but unused for HOTP. */
  period: number;
  /** Device label given at enrolment ("phone"); may be empty. */
  label: string;
  /** `v1:<keyId>:<iv>:<ct>:<tag>` from SeedCipher, bound to credentialId + accountId. Empty once retired (seed destroyed). */
  encryptedSeed: string;
  status: OtpStatus;
  createdAt: Date;
  /** Deadline for ConfirmOtpEnrollment; set while pending only, null otherwise. */
  confirmBy: Date | null;
  /** When ConfirmOtpEnrollment activated it; null while pending. */
  activatedAt: Date | null;
  /** When a code was last accepted. Not set by the domain transitions: the service stamps it in the same CAS write. */
  lastUsedAt: Date | null;
  /** When it was retired; null unless retired. */
  retiredAt: Date | null;
  /** TOTP: the time step last accepted, -1 for none. Only moves forward (RFC 6238 §5.2). -1 for HOTP. */
  lastAcceptedStep: number;
  /** HOTP: the next expected counter value. 0 for TOTP. */
  counter: number;
  /** TOTP: drift observed at the last accepted code (RFC 6238 §6). 0 for HOTP. */
  driftSteps: OtpDrift;
}

/**
 * What a single-document compare-and-set must still find in the stored row for a transition's
 * `next` to be applied: the row the decision was computed from. `lastAcceptedStep` (TOTP) and
 * `counter` (HOTP) only move forward, so equality on them cannot suffer from ABA; `status`
 * stops a concurrently retired or already confirmed credential from being (re)used.
 */
export interface OtpCasGuard {
  credentialId: string;
  status: OtpStatus;
  lastAcceptedStep: number;
  counter: number;
}

/** Why a code was refused. `replayed` is a genuine but already used (or older) code: audit it and tell the holder (ASVS 4.0.3 2.8.5). */
export type OtpFailureReason = 'mismatch' | 'replayed' | 'malformed';

/** A refused code. Carries no code, no seed and no expected value, so it is safe to log. */
export interface OtpFailure {
  ok: false;
  reason: OtpFailureReason;
}
