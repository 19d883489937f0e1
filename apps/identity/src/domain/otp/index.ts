/**
 * One-time passwords for IdentityService (P8, issue 4 items 4 and 5): TOTP (RFC 6238) and HOTP
 * (RFC 4226) credentials with their seeds encrypted at rest, exact window and replay rules, and
 * the per-account failed-attempt throttle every second-factor path shares. Pure domain code:
 * the repositories apply the transitions computed here with single-document compare-and-set
 * (see ports.ts), and the RPC layer maps the results to statuses.
 *
 * The protocol every second-factor RPC follows (VerifyOtp, ConfirmOtpEnrollment, ResyncHotp,
 * VerifySmsCode):
 * 1. `AccountThrottle.reserveAttempt` on the account's throttle state, written with a
 *    compare-and-set; refused → RESOURCE_EXHAUSTED (retry-after) or PERMISSION_DENIED (locked),
 *    without looking at the code.
 * 2. Decrypt the seed (`SeedCipher`), run `verifyOtp` / `confirmEnrollment` / `resyncHotp`, wipe it.
 * 3. Accepted → write `next` with a compare-and-set on `guard`; a lost CAS means re-read and
 *    re-verify (the code then reads as `replayed`), never success.
 * 4. Refused (mismatch, replayed, malformed) → `settleFailure`; a `replayed` code is also
 *    audited and reported to the holder. Session issued → `recordSuccess`; an intermediate step
 *    passed → `releaseAttempt`.
 */
export {
  TOTP_PERIOD_SECONDS,
  TOTP_WINDOW_STEPS,
  HOTP_LOOK_AHEAD,
  HOTP_DEFAULT_MAX_RESYNC,
  HOTP_MAX_RESYNC_LIMIT,
  SEED_BYTES,
  MIN_SEED_BYTES,
  MAX_SEED_BYTES,
  DEFAULT_CONFIRM_WINDOW_MS,
  type OtpKind,
  type OtpAlgorithm,
  type OtpDigits,
  type OtpStatus,
  type OtpDrift,
  type OtpCredential,
  type OtpCasGuard,
  type OtpFailure,
  type OtpFailureReason,
} from './otp-types.js';
export { OtpSeed, newSeed, cryptoRandom, base32Encode } from './otp-seed.js';
export { otpauthUri, type OtpauthUriInput } from './otpauth-uri.js';
export {
  SeedCipher,
  SeedDecryptionError,
  type SeedKey,
  type SeedKeyring,
  type SeedBinding,
  type SeedCipherFailure,
} from './seed-cipher.js';
export { otpAt, isWellFormedCode, OtpComputationError } from './otp-code.js';
export {
  OTP_ISSUER,
  validateEnrollment,
  startEnrollment,
  otpCasGuard,
  matchesOtpCasGuard,
  isConfirmationExpired,
  retireCredential,
  type EnrollmentRequest,
  type Enrollment,
  type OtpTransition,
} from './otp-credential.js';
export {
  verifyTotp,
  verifyHotp,
  verifyOtp,
  resyncHotp,
  confirmEnrollment,
  timeStep,
  type TotpAccepted,
  type HotpAccepted,
  type TotpResult,
  type HotpResult,
  type OtpResult,
  type ResyncAccepted,
  type ResyncResult,
} from './otp-verify.js';
export {
  AccountThrottle,
  DEFAULT_THROTTLE_POLICY,
  MAX_LOCK_AFTER,
  INITIAL_THROTTLE_STATE,
  throttleStatesEqual,
  type ThrottleState,
  type ThrottlePolicy,
  type ThrottleDecision,
  type Reservation,
  type ThrottleTransition,
} from './account-throttle.js';
export type { OtpCredentialCasStore, OtpCredentialRepository, ThrottleCasStore } from './ports.js';
