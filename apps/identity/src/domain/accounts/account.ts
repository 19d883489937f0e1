import type { Transaction } from '@gatehouse/core';
/** The roles of DESIGN.md §3, as the session tokens spell them; only manager and team_lead reach LIVE (P1). */
export { ROLES, type Role } from '@gatehouse/session';
import type { Role } from '@gatehouse/session';

/** Life cycle of an account (P5: only approved Google accounts get in). */
export type AccountState = 'pending_approval' | 'active' | 'suspended';

/** Who did something to an account (the officer), for the record. */
export interface Actor {
  accountId: string;
  email: string;
}

/**
 * An employee account. Keyed by Google issuer + subject (the e-mail is shown, never the key:
 * Google may reassign an address). `version` increments on every change, so updates are
 * compare-and-set and two officers cannot silently overwrite each other.
 */
export interface Account {
  accountId: string;
  issuer: string;
  subject: string;
  email: string;
  /** The name shown for the employee: the Google profile name until the officer approves one. */
  displayName: string;
  /**
   * True once the officer set displayName at approval (issue 13 item 5): sign-ins then keep it
   * instead of the Google profile's name.
   */
  displayNameApproved?: boolean | undefined;
  hostedDomain: string;
  roles: Role[];
  state: AccountState;
  /** The SMS number, encrypted at rest (personal data); never logged. */
  phoneCiphertext?: string | undefined;
  /** The last digits only, for display ("••••••5678"). */
  phoneMask?: string | undefined;
  createdAt: Date;
  updatedAt: Date;
  approvedAt?: Date | undefined;
  approvedBy?: Actor | undefined;
  suspendedAt?: Date | undefined;
  suspendedBy?: Actor | undefined;
  suspensionReason?: string | undefined;
  lastSignInAt?: Date | undefined;
  version: number;
}

/** Filters of ListAccounts (typed values only). */
export interface AccountFilter {
  states?: AccountState[];
  roles?: Role[];
  /** Exact e-mail, compared case-insensitively (display value, so the officer can find someone). */
  email?: string;
}

/** The accounts' storage port; SQLite and MongoDB adapters pass one contract suite. */
export interface AccountRepository {
  /** Inserts a new account; AlreadyExistsError if issuer + subject (or the id) is taken. */
  create(tx: Transaction, account: Account): Promise<void>;
  byId(accountId: string, tx?: Transaction): Promise<Account | undefined>;
  byIssuerSubject(issuer: string, subject: string, tx?: Transaction): Promise<Account | undefined>;
  /** Newest first; `after` is the accountId of the previous page's last account. */
  list(filter: AccountFilter, page: { after?: { createdAt: Date; accountId: string } | undefined; limit: number }, tx?: Transaction): Promise<Account[]>;
  /**
   * Replaces the account if its stored version is still `account.version - 1` (compare-and-set);
   * returns false when someone else changed it first.
   */
  update(tx: Transaction, account: Account): Promise<boolean>;
  /** Active accounts holding the security_officer role (never suspend or demote the last one). */
  countActiveOfficers(tx?: Transaction): Promise<number>;
}

/**
 * A new account for a verified Google identity, waiting for the officer's approval: keyed by
 * issuer + subject, no roles. Sign-in records applicants this way; bootstrap starts from it too.
 */
export function applicantAccount(
  google: { issuer: string; subject: string; email: string; name?: string | undefined; hostedDomain?: string | undefined },
  accountId: string,
  now: Date,
): Account {
  return {
    accountId,
    issuer: google.issuer,
    subject: google.subject,
    email: google.email,
    displayName: google.name ?? google.email,
    hostedDomain: google.hostedDomain ?? '',
    roles: [],
    state: 'pending_approval',
    createdAt: now,
    updatedAt: now,
    version: 1,
  };
}
