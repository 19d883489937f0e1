import type { Transaction } from '@gatehouse/core';
import type { Actor, Role } from '../accounts/account.js';

/** FULL, or limited to registering today's IP (issued from an IP not on the allowlist, P7). */
export type SessionScope = 'full' | 'register-ip';

/** What a session record says about itself at a given instant. */
export type SessionStatus = 'active' | 'expired' | 'revoked';

/**
 * The server-side record of a session: what revocation, refresh and ListSessions work on. The
 * token itself is never stored (it is a bearer credential); only its id and times are.
 */
export interface SessionRecord {
  sessionId: string;
  accountId: string;
  email: string;
  /** The account's display name when the session was issued (the token's `name`); absent in older records. */
  displayName?: string;
  roles: Role[];
  scope: SessionScope;
  /** Sign-in methods, lower case: google, sms, totp, hotp. */
  amr: string[];
  /** The client IP the session is pinned to. */
  pinnedIp: string;
  /** When the sign-in completed; refreshes never move it. */
  authTime: Date;
  /** When the current token was issued (the last refresh, or authTime). */
  issuedAt: Date;
  /** The current token's expiry: the inactivity limit from issuedAt, capped by absoluteExpiresAt. */
  expiresAt: Date;
  /** The absolute lifetime: no refresh goes beyond it. */
  absoluteExpiresAt: Date;
  /** Until when the session reaches LIVE; null when its roles or scope never reach LIVE. */
  liveExpiresAt: Date | null;
  /** Until when the session reaches STAGING; null when its scope reaches nothing. */
  stagingExpiresAt: Date | null;
  /** The signing key of the current token. */
  keyId: string;
  lastRefreshedAt: Date | null;
  revokedAt: Date | null;
  revokedBy: Actor | null;
  revokeReason: string | null;
  /** Incremented on every change (refresh is a compare-and-set). */
  version: number;
}

/** The status of a record at `now`: revoked wins over expired. */
export function sessionStatus(r: SessionRecord, now: Date): SessionStatus {
  if (r.revokedAt !== null) return 'revoked';
  return r.expiresAt.getTime() <= now.getTime() ? 'expired' : 'active';
}

/** Filters of ListSessions. */
export interface SessionFilter {
  accountId?: string;
  /** Empty or absent: all. Evaluated at `now`. */
  statuses?: SessionStatus[];
  now: Date;
}

/** Storage port of session records; SQLite and MongoDB adapters pass one contract suite. */
export interface SessionRepository {
  /** Inserts a new record; AlreadyExistsError if the id is taken. */
  create(tx: Transaction, record: SessionRecord): Promise<void>;
  get(sessionId: string, tx?: Transaction): Promise<SessionRecord | undefined>;
  /**
   * Replaces the record iff its stored version is `record.version - 1` AND it is not revoked;
   * false otherwise (a refresh racing a revocation never resurrects the session).
   */
  update(tx: Transaction, record: SessionRecord): Promise<boolean>;
  /** Revokes one session if not yet revoked; true if this call revoked it. */
  revoke(tx: Transaction, sessionId: string, at: Date, by: Actor | null, reason: string): Promise<boolean>;
  /**
   * Revokes every session of the account that is neither revoked nor past its absolute expiry
   * at `at`; returns how many it revoked.
   */
  revokeAllForAccount(tx: Transaction, accountId: string, at: Date, by: Actor | null, reason: string): Promise<number>;
  /** Newest first (issuedAt of creation = authTime, then id); `after` is the previous page's last record. */
  list(filter: SessionFilter, page: { after?: { authTime: Date; sessionId: string } | undefined; limit: number }, tx?: Transaction): Promise<SessionRecord[]>;
  /** Whether any earlier session of the account was pinned to `ip` (the "new IP" alert). */
  hasUsedIp(accountId: string, ip: string, tx?: Transaction): Promise<boolean>;
}
