import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { FailedPreconditionError, InvalidArgumentError, ResourceExhaustedError } from '@gatehouse/core';

/** SMS step policy (NIST 800-63B §3.1.3.2, ASVS 6.5.5 / 6.6.2). */
export interface SmsPolicy {
  /** Digits per code; at least 6. */
  digits: number;
  /** How long a code is valid; at most 10 minutes. */
  ttlMs: number;
  /** Codes one sign-in may send (the first plus resends). */
  maxSends: number;
  /** Minimum time between two sends. */
  cooldownMs: number;
}

/** Defaults: 6 digits, 5 minutes, 3 sends, 30 s apart. */
export const DEFAULT_SMS_POLICY: Readonly<SmsPolicy> = Object.freeze({ digits: 6, ttlMs: 5 * 60_000, maxSends: 3, cooldownMs: 30_000 });

/** Refuses a policy that would break the requirements, at start-up rather than at sign-in. */
export function validateSmsPolicy(p: SmsPolicy): void {
  if (!Number.isInteger(p.digits) || p.digits < 6 || p.digits > 10) throw new InvalidArgumentError('sms.digits', 'must be 6 to 10');
  if (!(p.ttlMs > 0 && p.ttlMs <= 10 * 60_000)) throw new InvalidArgumentError('sms.ttl', 'must be at most 10 minutes');
  if (!Number.isInteger(p.maxSends) || p.maxSends < 1 || p.maxSends > 10) throw new InvalidArgumentError('sms.max_sends', 'must be 1 to 10');
  if (!(p.cooldownMs >= 0)) throw new InvalidArgumentError('sms.cooldown', 'must not be negative');
}

/**
 * The SMS challenge of one sign-in. Only an HMAC of the code is kept (keyed by a server secret,
 * so a stolen database does not give the 10^6 codes away to a quick offline search), and it is
 * bound to the sign-in id.
 */
export interface SmsChallenge {
  signInId: string;
  codeHash: string;
  expiresAt: Date;
  sends: number;
  lastSentAt: Date;
  usedAt: Date | null;
}

/** A uniformly random code of `digits` digits (no modulo bias). */
export function randomCode(digits: number, rand: (max: number) => number = (max) => randomInt(max)): string {
  let out = '';
  for (let i = 0; i < digits; i++) out += String(rand(10));
  return out;
}

/** HMAC-SHA256 of the code bound to its sign-in, hex. */
export function smsCodeHash(pepper: Uint8Array, signInId: string, code: string): string {
  return createHmac('sha256', pepper).update(signInId).update('\u0000').update(code).digest('hex');
}

/**
 * Issues the first code or a resend. A resend replaces the code (the old one stops working) but
 * never resets the account's failure count, which lives in the account throttle, not here.
 */
export function issueSmsCode(
  previous: SmsChallenge | undefined,
  signInId: string,
  now: Date,
  pepper: Uint8Array,
  policy: SmsPolicy = DEFAULT_SMS_POLICY,
  rand?: (max: number) => number,
): { challenge: SmsChallenge; code: string } {
  if (previous) {
    if (previous.usedAt) throw new FailedPreconditionError('the SMS step of this sign-in is already done');
    if (previous.sends >= policy.maxSends) throw new FailedPreconditionError('no SMS resends remain for this sign-in: start a new sign-in');
    const wait = previous.lastSentAt.getTime() + policy.cooldownMs - now.getTime();
    if (wait > 0) throw new ResourceExhaustedError(`wait ${Math.ceil(wait / 1000)} s before asking for another SMS code`, wait);
  }
  const code = randomCode(policy.digits, rand);
  return {
    code,
    challenge: {
      signInId,
      codeHash: smsCodeHash(pepper, signInId, code),
      expiresAt: new Date(now.getTime() + policy.ttlMs),
      sends: (previous?.sends ?? 0) + 1,
      lastSentAt: now,
      usedAt: null,
    },
  };
}

/** Checks a code: the same answer shape for every failure, so callers cannot leak which one. */
export function checkSmsCode(challenge: SmsChallenge, code: string, now: Date, pepper: Uint8Array): { ok: true; next: SmsChallenge } | { ok: false; reason: 'expired' | 'used' | 'mismatch' | 'malformed' } {
  if (!/^\d{6,10}$/.test(code)) return { ok: false, reason: 'malformed' };
  if (challenge.usedAt) return { ok: false, reason: 'used' };
  if (now.getTime() >= challenge.expiresAt.getTime()) return { ok: false, reason: 'expired' };
  const a = Buffer.from(smsCodeHash(pepper, challenge.signInId, code), 'hex');
  const b = Buffer.from(challenge.codeHash, 'hex');
  if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, reason: 'mismatch' };
  return { ok: true, next: { ...challenge, usedAt: now } };
}

/** Where SMS go: an HTTP gateway in production, a dev sink in dev mode. */
export interface SmsGateway {
  /** Sends `text` to `phoneNumber` (E.164). Throws UnavailableError when the gateway fails. */
  send(phoneNumber: string, text: string): Promise<void>;
}

/** The message sent: the code and what it is for, nothing else. */
export function smsText(code: string, ttlMs: number): string {
  return `Gatehouse sign-in code: ${code}. Valid ${Math.round(ttlMs / 60_000)} min. Never share it.`;
}
