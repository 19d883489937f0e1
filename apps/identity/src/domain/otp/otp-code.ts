import { timingSafeEqual } from 'node:crypto';
import { generateSync } from 'otplib';
import type { OtpSeed } from './otp-seed.js';
import type { OtpAlgorithm, OtpDigits } from './otp-types.js';

const OTPLIB_ALGORITHM = { SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' } as const;

/**
 * Code generation failed inside otplib. The original error is dropped on purpose: we cannot
 * vouch that a third-party message never echoes its input, and this one must stay loggable.
 */
export class OtpComputationError extends Error {
  constructor() {
    super('OTP code could not be computed');
    this.name = 'OtpComputationError';
  }
}

/**
 * HOTP(K, C) of RFC 4226 §5.3, computed by otplib (issue 4: "Use otplib"). TOTP is the same
 * function of the time step (RFC 6238 §4.2), so the verifier calls this with the step it
 * chose: the window and replay rules stay ours and exact, otplib only does the HMAC and the
 * dynamic truncation. The seed goes in as raw bytes (a string would be read as base32).
 */
export function otpAt(seed: OtpSeed, algorithm: OtpAlgorithm, digits: OtpDigits, counter: number): string {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError('OTP counter must be a non-negative safe integer');
  try {
    return generateSync({
      secret: seed.reveal(),
      strategy: 'hotp',
      counter,
      algorithm: OTPLIB_ALGORITHM[algorithm],
      digits,
    });
  } catch {
    throw new OtpComputationError();
  }
}

/** True if `code` is exactly `digits` ASCII digits; anything else (spaces, signs, Unicode digits, other lengths) is malformed. */
export function isWellFormedCode(code: unknown, digits: OtpDigits): code is string {
  return typeof code === 'string' && code.length === digits && /^[0-9]+$/.test(code);
}

/** Constant-time equality of two codes of the same length (checked by the caller). */
export function codesEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
