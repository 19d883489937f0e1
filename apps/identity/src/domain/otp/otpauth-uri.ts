import { InvalidArgumentError } from '@gatehouse/core';
import { base32Encode } from './otp-seed.js';
import type { OtpSeed } from './otp-seed.js';
import type { OtpAlgorithm, OtpDigits, OtpKind } from './otp-types.js';
import { TOTP_PERIOD_SECONDS } from './otp-types.js';

/** What goes into an otpauth:// URI. */
export interface OtpauthUriInput {
  kind: OtpKind;
  algorithm: OtpAlgorithm;
  digits: OtpDigits;
  /** TOTP step in seconds; 30 (the only value we issue). Ignored for HOTP. */
  period?: number;
  /** HOTP: the device's starting counter (default 0). Ignored for TOTP. */
  counter?: number;
  /** Shown as the provider in the authenticator ("Gatehouse"). */
  issuer: string;
  /** Shown as the account (the e-mail). */
  account: string;
  secret: OtpSeed;
}

const MAX_LABEL_PART = 256;

/**
 * The Key URI Format (google-authenticator wiki) that EnrollOtp returns once for the QR code:
 * `otpauth://TYPE/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&algorithm=..&digits=..&period=30`
 * (HOTP: `&counter=N` instead of period). Both label parts are percent-encoded (RFC 3986, space
 * as %20, never `+`), the issuer is repeated as a parameter as the format recommends, and the
 * secret is unpadded base32. Issuer and account may not contain a colon, the label separator.
 *
 * The result holds the seed: treat it as a secret (never log it, return it only once).
 */
export function otpauthUri(input: OtpauthUriInput): string {
  const issuer = labelPart('issuer', input.issuer);
  const account = labelPart('account', input.account);
  if (input.kind !== 'totp' && input.kind !== 'hotp') throw new InvalidArgumentError('kind', 'must be totp or hotp');
  if (input.algorithm !== 'SHA1' && input.algorithm !== 'SHA256' && input.algorithm !== 'SHA512') {
    throw new InvalidArgumentError('algorithm', 'must be SHA1, SHA256 or SHA512');
  }
  if (input.digits !== 6 && input.digits !== 8) throw new InvalidArgumentError('digits', 'must be 6 or 8');
  const params = [
    `secret=${base32Encode(input.secret.reveal())}`,
    `issuer=${issuer}`,
    `algorithm=${input.algorithm}`,
    `digits=${input.digits}`,
  ];
  if (input.kind === 'totp') {
    const period = input.period ?? TOTP_PERIOD_SECONDS;
    if (!Number.isSafeInteger(period) || period <= 0) throw new InvalidArgumentError('period', 'must be a positive whole number of seconds');
    params.push(`period=${period}`);
  } else {
    const counter = input.counter ?? 0;
    if (!Number.isSafeInteger(counter) || counter < 0) throw new InvalidArgumentError('counter', 'must be a non-negative integer');
    params.push(`counter=${counter}`);
  }
  return `otpauth://${input.kind}/${issuer}:${account}?${params.join('&')}`;
}

function labelPart(field: string, value: string): string {
  if (typeof value !== 'string' || value.trim().length === 0) throw new InvalidArgumentError(field, 'must not be empty');
  if (value.length > MAX_LABEL_PART) throw new InvalidArgumentError(field, `must be at most ${MAX_LABEL_PART} characters`);
  if (value.includes(':')) throw new InvalidArgumentError(field, 'must not contain ":" (the otpauth label separator)');
  // Control characters would be invisible in the authenticator and only serve to confuse.
  if (/\p{Cc}/u.test(value)) throw new InvalidArgumentError(field, 'must not contain control characters');
  try {
    return encodeURIComponent(value);
  } catch {
    // encodeURIComponent throws URIError on a lone surrogate.
    throw new InvalidArgumentError(field, 'is not valid Unicode');
  }
}
