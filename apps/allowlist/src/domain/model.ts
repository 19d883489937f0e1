import type { Transaction } from '@gatehouse/core';

/** Which environment an entry opens: LIVE, STAGING or both (allowlist.v1.EntryScope). */
export type EntryScope = 'live' | 'staging' | 'all';

/** The environments Check decides for. */
export type Environment = 'live' | 'staging';

/** Who did something (from the verified session). */
export interface Actor {
  accountId: string;
  email: string;
}

/**
 * An enumerated CIDR entry, managed by the security officer (P7: "only an enumerated set of IP
 * addresses"). Removal is soft (kept for the record); `activeKey` is what makes one active
 * entry per canonical CIDR and scope unique: `<cidr>|<scope>` while active, the entry id once
 * removed, so a removed entry never blocks a new one.
 */
export interface AllowlistEntry {
  entryId: string;
  /** Canonical CIDR (`10.1.0.0/16`, `2001:db8::/48`). */
  cidr: string;
  label: string;
  scope: EntryScope;
  /** Null: no expiry. Check denies from the first instant after it, whatever the store's TTL does. */
  expiresAt: Date | null;
  createdBy: Actor;
  reason: string;
  createdAt: Date;
  removedAt: Date | null;
  removedBy: Actor | null;
  removeReason: string | null;
  activeKey: string;
}

/**
 * A home worker's IP for today (P7: "home workers must pass on their IP every day"), valid until
 * the next daily cut-off. `slot` numbers the account's distinct IPs of that day (1..cap); a
 * unique (account, day, slot) key makes the cap hold under concurrent registrations, and a
 * unique (account, day, ip) key makes re-registering the same IP a no-op.
 */
export interface DailyIp {
  dailyIpId: string;
  /** Canonical IP. */
  ip: string;
  accountId: string;
  email: string;
  scope: EntryScope;
  registeredAt: Date;
  /** The cut-off this registration lasts until; also the "day" key. */
  expiresAt: Date;
  slot: number;
}

/**
 * Storage port of enumerated entries; SQLite and MongoDB adapters pass one contract suite.
 * Writes take the use case's transaction, so the entry, the change version and the audit event
 * commit together (issue 14).
 */
export interface EntryRepository {
  /** Inserts an entry; AlreadyExistsError if an active entry has the same `activeKey`. */
  create(tx: Transaction, entry: AllowlistEntry): Promise<void>;
  get(entryId: string): Promise<AllowlistEntry | undefined>;
  /**
   * Soft-removes an active entry (sets removedAt/By/Reason and activeKey = entryId) iff it is
   * still active; returns the removed entry, or undefined if unknown or already removed.
   */
  remove(tx: Transaction, entryId: string, at: Date, by: Actor, reason: string): Promise<AllowlistEntry | undefined>;
  /** Every active (not removed) entry, expired ones included: the index decides on expiry. */
  listActive(): Promise<AllowlistEntry[]>;
}

/** Storage port of daily IPs; SQLite and MongoDB adapters pass one contract suite. */
export interface DailyIpRepository {
  /**
   * Inserts a registration in `tx`: `created`; `ip_exists` when the account already registered
   * this IP for this cut-off (unique account+day+ip); `slot_taken` when that slot number is taken
   * (unique account+day+slot: try the next, up to the cap). Anything but `created` leaves `tx`
   * unusable on MongoDB (a failed write aborts its transaction): the caller must end the unit.
   */
  create(tx: Transaction, daily: DailyIp): Promise<'created' | 'ip_exists' | 'slot_taken'>;
  /** The account's registration of `ip` for the cut-off `expiresAt`, if any. */
  find(accountId: string, ip: string, expiresAt: Date): Promise<DailyIp | undefined>;
  /** How many distinct IPs the account registered for this cut-off. */
  countForDay(accountId: string, expiresAt: Date): Promise<number>;
  /** Registrations whose expiry is after `now` (for the index). */
  listUnexpired(now: Date): Promise<DailyIp[]>;
  /** Newest first, for ListDailyIps; `after` is the previous page's last row. */
  list(filter: { accountId?: string; includeExpired: boolean; now: Date }, page: { after?: { registeredAt: Date; dailyIpId: string } | undefined; limit: number }): Promise<DailyIp[]>;
  /** Whether the account ever registered `ip` before (any day): the "new IP for LIVE" alert. */
  hasUsedIp(accountId: string, ip: string): Promise<boolean>;
  /** Deletes registrations that expired before `before` (housekeeping, never a decision). */
  purgeExpired(tx: Transaction, before: Date): Promise<number>;
}

/**
 * The change version replicas poll (DESIGN: every replica converges within 1 s): one counter,
 * bumped after every change, read with one cheap query.
 */
export interface ChangeVersion {
  current(): Promise<number>;
  /** Increments it in the change's own transaction (replicas see it exactly when the change commits); returns the new value. */
  bump(tx: Transaction): Promise<number>;
}
