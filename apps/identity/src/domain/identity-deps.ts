import { randomBytes } from 'node:crypto';
import type { Clock } from '@gatehouse/core';
import type { SessionClaims } from '@gatehouse/session';
import type { SigningKeyRing } from '@gatehouse/signing-keys';
import type { AccountRepository } from './accounts/account.js';
import type { IdentityKeys } from './crypto/master-key.js';
import type { VerifiedGoogleIdentity } from './google/index.js';
import type { OtpCredentialRepository, SeedCipher } from './otp/index.js';
import type { AllowlistCheck, IdentityAudit, IdentityUnitOfWork } from './ports.js';
import type { SessionLifetimes } from './sessions/session-policy.js';
import type { SessionRepository } from './sessions/session-record.js';
import type { RevocationLog } from './sessions/revocation-log.js';
import type { RoleChangeRepository } from './accounts/role-change.js';
import type { BootstrapTokenRepository } from './sessions/bootstrap-token.js';
import type { SignInRepository } from './sign-in/sign-in.js';
import type { ThrottleGuard } from './sign-in/throttle-guard.js';
import type { SmsGateway, SmsPolicy } from './sms/index.js';

/** Identity's settings, already validated by the wiring. */
export interface IdentitySettings {
  /** `iss` of session tokens. */
  issuer: string;
  /** `aud` of session tokens. */
  audience: string;
  lifetimes: SessionLifetimes;
  sms: SmsPolicy;
  /** How recent a sign-in must be to change a second factor with a session. Default 10 min. */
  freshSignInMs: number;
  /** HOTP resync range (RFC 4226 §7.4). */
  maxResync: number;
  /** How long the bootstrap token printed at first start is valid. */
  bootstrapTokenTtlMs: number;
}

/** Everything the identity domain works with: ports only, no transport and no driver. */
export interface IdentityDeps {
  accounts: AccountRepository;
  /** Role changes waiting for a second officer (two-person rule). */
  roleChanges: RoleChangeRepository;
  credentials: OtpCredentialRepository;
  signIns: SignInRepository;
  sessions: SessionRepository;
  /** What other services learn revocations from (WatchRevocations); written before the records are revoked. */
  revocations: RevocationLog;
  /** Told after each append, so this replica's streams push it at once instead of at the next poll. */
  revocationHub?: { nudge(): void };
  bootstrap: BootstrapTokenRepository;
  keys: SigningKeyRing;
  throttle: ThrottleGuard;
  google: { verify(idToken: string): Promise<VerifiedGoogleIdentity> };
  sms: SmsGateway;
  allowlist: AllowlistCheck;
  /** Confirms a critical action's intent with audit, before the unit of work that performs it. */
  audit: IdentityAudit;
  /** Every state change runs in one of these units, with its audit events. */
  uow: IdentityUnitOfWork;
  secrets: IdentityKeys;
  seedCipher: SeedCipher;
  /** Verifies session tokens against the keys identity publishes (signature, times, pinned IP). */
  verifier: { verify(token: string, opts: { presentedIp?: string }): Promise<SessionClaims> };
  clock: Clock;
  settings: IdentitySettings;
}

/** Where a call comes from: the client IP the sign-in or session is bound to, and the request id for audit. */
export interface CallSource {
  ip: string;
  requestId: string;
}

/** A random, URL-safe id with a type prefix (128 bits: unguessable, so a sign-in id is also a capability). */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(16).toString('base64url')}`;
}

/** `now` truncated to whole seconds, so stored times equal the token's NumericDates. */
export function wholeSeconds(at: Date): Date {
  return new Date(Math.floor(at.getTime() / 1000) * 1000);
}
