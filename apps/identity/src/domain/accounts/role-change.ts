import type { Transaction } from '@gatehouse/core';
import type { Actor, Role } from './account.js';

/**
 * The roles whose grant needs a second security officer (issue 13 item 2, two-person rule):
 * security_officer governs access, manager and team_lead reach LIVE (P1).
 */
export const PRIVILEGED_ROLES: readonly Role[] = Object.freeze(['security_officer', 'manager', 'team_lead']);

/** How long a role change waits for the second officer before it expires. */
export const ROLE_CHANGE_TTL_MS = 24 * 3600_000;

/** What a pending role change does once approved: SetRoles, or ApproveAccount. */
export type RoleChangeKind = 'set_roles' | 'approve_account';

/** Where a role change stands; only `pending` may move, and only once. */
export type RoleChangeState = 'pending' | 'applied' | 'expired';

/**
 * A change of roles that grants a privileged role, recorded by the first officer and applied
 * only when a different active officer approves it. `accountVersion` is the account's version
 * when it was requested: the change applies to that account as it was, or not at all.
 * `version` makes every move a compare-and-set, so two approvals cannot both apply.
 */
export interface RoleChange {
  changeId: string;
  accountId: string;
  kind: RoleChangeKind;
  /** The complete new set of roles. */
  roles: Role[];
  /** The privileged roles it adds. */
  grantedRoles: Role[];
  /** The requester's reason (SetRoles) or note (ApproveAccount). */
  reason: string;
  /** ApproveAccount only: the display name, and the phone number encrypted as the account stores it. */
  displayName?: string | undefined;
  phoneCiphertext?: string | undefined;
  phoneMask?: string | undefined;
  accountVersion: number;
  requestedBy: Actor;
  requestedAt: Date;
  expiresAt: Date;
  state: RoleChangeState;
  approvedBy?: Actor | undefined;
  approvedAt?: Date | undefined;
  approvalNote?: string | undefined;
  version: number;
}

/** The pending role changes' storage port; SQLite and MongoDB adapters pass one contract suite. */
export interface RoleChangeRepository {
  /** Inserts a new change (version 1). */
  create(tx: Transaction, change: RoleChange): Promise<void>;
  byId(changeId: string, tx?: Transaction): Promise<RoleChange | undefined>;
  /** Changes in one of `states`, newest first. */
  list(states: readonly RoleChangeState[], limit: number, tx?: Transaction): Promise<RoleChange[]>;
  /**
   * Replaces the change if its stored state is still `expected` (default `pending`) and its
   * version is `next.version - 1` (compare-and-set); false when someone else decided it first.
   */
  decide(tx: Transaction, next: RoleChange, expected?: RoleChangeState): Promise<boolean>;
}

/** The privileged roles `next` adds to `current`, in the order of `next`. */
export function privilegedAdditions(current: readonly Role[], next: readonly Role[]): Role[] {
  return next.filter((r) => PRIVILEGED_ROLES.includes(r) && !current.includes(r));
}

/** The state a change is in at `now`: a pending change past its expiry is expired. */
export function effectiveRoleChangeState(c: RoleChange, now: Date): RoleChangeState {
  return c.state === 'pending' && c.expiresAt.getTime() <= now.getTime() ? 'expired' : c.state;
}
