import type { Transaction } from '@gatehouse/core';
import type { SmsChallenge } from '../sms/index.js';

/** The steps of a sign-in (DESIGN.md §3): Google ID token, SMS code, OTP enrolment (first time only), OTP code. */
export type SignInStep = 'google' | 'sms' | 'otp_enrollment' | 'otp';

/** How long a sign-in may take from BeginSignIn to VerifyOtp. */
export const SIGN_IN_TTL_MS = 10 * 60_000;

/**
 * One sign-in in progress, bound to the account the Google token named and to the client IP of
 * BeginSignIn. It is single use: VerifyOtp moves it to `completed` with a compare-and-set on
 * `version`, so two parallel successes can never both issue a session. The SMS challenge lives
 * inside it (hashed code only), which is what binds a code to its sign-in.
 */
export interface SignIn {
  signInId: string;
  accountId: string;
  /** The client IP of BeginSignIn; every later step must come from it. */
  clientIp: string;
  createdAt: Date;
  expiresAt: Date;
  /** Steps passed, in order. */
  completed: SignInStep[];
  /** The current SMS challenge, or null before SendSmsCode. */
  sms: SmsChallenge | null;
  status: 'open' | 'completed';
  /** The session VerifyOtp issued; null while open. */
  sessionId: string | null;
  /** Incremented on every change (compare-and-set). */
  version: number;
}

/** Storage port of sign-ins; SQLite and MongoDB adapters pass one contract suite. */
export interface SignInRepository {
  /** Inserts a new sign-in; AlreadyExistsError if the id is taken. */
  create(tx: Transaction, signIn: SignIn): Promise<void>;
  get(signInId: string, tx?: Transaction): Promise<SignIn | undefined>;
  /** Replaces the sign-in iff its stored version is `signIn.version - 1`; false if someone else changed it first. */
  update(tx: Transaction, signIn: SignIn): Promise<boolean>;
  /** Deletes sign-ins that expired before `before`; returns how many. */
  purgeExpired(before: Date, tx?: Transaction): Promise<number>;
}
