/**
 * The impersonation service's domain records and storage ports (P9, P11). No gRPC, no driver:
 * the rpc layer translates protos to these, the store adapters persist them.
 */
import type { Transaction } from '@gatehouse/core';

/** Why an employee impersonates (ImpersonationReason). */
export type ReasonCode = 'customer_support_case' | 'bug_investigation' | 'incident_response';

/** The roles that may impersonate (P9), in the order a grant's role is picked. */
export const IMPERSONATOR_ROLES = ['support', 'developer'] as const;
export type ImpersonatorRole = (typeof IMPERSONATOR_ROLES)[number];

/** Stored state of a grant. `expired` is written by the expiry job; until then an ACTIVE grant past expiresAt reads as expired. */
export type GrantState = 'active' | 'ended' | 'expired' | 'revoked';

/** An employee as recorded on a grant or anomaly (roles at the time). */
export interface Staff {
  accountId: string;
  email: string;
  displayName: string;
  roles: string[];
}

/** Someone acting on a record (officer, employee): display only, besides the account id. */
export interface Actor {
  accountId: string;
  email: string;
}

/** An impersonation grant. */
export interface GrantRecord {
  grantId: string;
  employee: Staff;
  /** The role the employee impersonated under (shown to the customer). */
  role: ImpersonatorRole;
  targetUserId: string;
  customerDomain: string;
  reason: ReasonCode;
  justification: string;
  ticketRef: string;
  startedAt: Date;
  expiresAt: Date;
  state: GrantState;
  endedAt: Date | null;
  revokedBy: Actor | null;
  revokeReason: string | null;
  sessionId: string;
  sourceIp: string;
  /** The `jti` of the token issued for it. */
  tokenId: string;
  /** The expiry job emitted ACTION_IMPERSONATION_EXPIRE for it. */
  expiryReported: boolean;
}

/** One grant as the burst rule counts it. */
export interface BurstEntry {
  grantId: string;
  targetUserId: string;
  startedAt: Date;
}

/**
 * The burst rule's state for one employee in one customer domain: the grants inside the window
 * and the anomaly that blocks the domain, if any. Every StartImpersonation decides on it and
 * writes it back with one compare-and-set on `version`, so concurrent starts (on any replica)
 * are decided one after the other and a burst cannot slip through.
 */
export interface BurstWindow {
  accountId: string;
  customerDomain: string;
  /** 0 = never stored. */
  version: number;
  entries: BurstEntry[];
  blockingAnomalyId: string | null;
}

export type AnomalyState = 'open' | 'justified' | 'accepted' | 'rejected';
export type AnomalyResolution = 'accept' | 'reject';

/** The rule that opened an anomaly, with the values in force then. */
export interface BurstRule {
  ruleId: string;
  distinctTargets: number;
  windowMs: number;
}

/** An impersonation anomaly (P11). */
export interface AnomalyRecord {
  anomalyId: string;
  employee: Staff;
  customerDomain: string;
  rule: BurstRule;
  targetUserIds: string[];
  grantIds: string[];
  refusedTargetUserId: string;
  openedAt: Date;
  state: AnomalyState;
  justification: string;
  ticketRefs: string[];
  justifiedAt: Date | null;
  resolution: AnomalyResolution | null;
  resolutionNote: string;
  resolvedBy: Actor | null;
  resolvedAt: Date | null;
  version: number;
}

/** An employee's impersonation lock (a rejected anomaly); absent = never locked. */
export interface LockRecord {
  accountId: string;
  locked: boolean;
  lockedAt: Date | null;
  anomalyId: string | null;
  unlockedAt: Date | null;
  unlockedBy: Actor | null;
  version: number;
}

export type AccessOperation = 'read' | 'write' | 'delete';

/** Records of one type touched by one operation. */
export interface AccessedRecords {
  resourceType: string;
  operation: AccessOperation;
  count: number;
  recordIds: string[];
}

/** A backend's RecordAccess report, stored once per report id. */
export interface AccessReport {
  reportId: string;
  grantId: string;
  customerDomain: string;
  records: AccessedRecords[];
  accessedAt: Date;
  recordedAt: Date;
  /** The reporting backend's certificate identity (`backend:name`). */
  reportedBy: string;
}

/** Keyset page of active grants: soonest expiry first. */
export interface ActivePage {
  after?: { expiresAt: Date; grantId: string } | undefined;
  limit: number;
}

/** Keyset page, newest first. */
export interface NewestPage {
  after?: { at: Date; id: string } | undefined;
  limit: number;
}

/*
 * Every write takes the use case's transaction first (issue 14): the unit of work commits it with
 * the use case's audit events, or neither. Reads a use case decides on inside its unit take the
 * transaction too (on SQLite a read outside it would wait for the unit's own lock); elsewhere
 * they stand alone. Compare-and-sets stay conditional writes checked inside the unit, so two
 * replicas can never both win.
 */

/** Storage port of grants; SQLite and MongoDB adapters pass one contract suite. */
export interface GrantRepository {
  /** AlreadyExistsError if the id is taken. */
  create(tx: Transaction, g: GrantRecord): Promise<void>;
  get(grantId: string, tx?: Transaction): Promise<GrantRecord | undefined>;
  /**
   * ACTIVE and not yet expired at `now` → `to` (ended or revoked), in one conditional update.
   * Returns the grant as written, or undefined if it was not ACTIVE (or already past expiry).
   */
  close(tx: Transaction, grantId: string, now: Date, to: { state: 'ended' | 'revoked'; revokedBy?: Actor; revokeReason?: string }): Promise<GrantRecord | undefined>;
  /** ACTIVE grants past expiry → EXPIRED (endedAt = expiresAt); returns those it changed. */
  expireDue(tx: Transaction, now: Date, limit: number): Promise<GrantRecord[]>;
  /** Marks the expiry as audited. */
  markExpiryReported(tx: Transaction, grantIds: string[]): Promise<void>;
  /** EXPIRED grants that expired before `before` and whose expiry event is not recorded (left by a version that audited in a second step). */
  expiryUnreported(before: Date, limit: number, tx?: Transaction): Promise<GrantRecord[]>;
  /** ACTIVE, unexpired grants, soonest expiry first. */
  listActive(filter: { accountId?: string; customerDomain?: string }, now: Date, page: ActivePage, tx?: Transaction): Promise<GrantRecord[]>;
  countActive(accountId: string, now: Date): Promise<number>;
  /** One domain's grants, newest start first. */
  listForDomain(customerDomain: string, range: { from?: Date; to?: Date }, page: NewestPage): Promise<GrantRecord[]>;
  /** Distinct targets of the employee's grants in the domain started at or after `since` (the raw form of the burst count). */
  countDistinctTargets(accountId: string, customerDomain: string, since: Date): Promise<number>;
}

/** Storage port of the burst rule's per-(employee, domain) windows. */
export interface BurstRepository {
  get(accountId: string, customerDomain: string, tx?: Transaction): Promise<BurstWindow | undefined>;
  /** Stores `next` iff the stored version is `next.version - 1` (absent counts as 0). True if written. */
  put(tx: Transaction, next: BurstWindow): Promise<boolean>;
}

/** Anomaly listing filter. */
export interface AnomalyFilter {
  states?: AnomalyState[];
  accountId?: string;
  customerDomain?: string;
  openedFrom?: Date;
  openedTo?: Date;
}

/** Storage port of anomalies. */
export interface AnomalyRepository {
  create(tx: Transaction, a: AnomalyRecord): Promise<void>;
  get(anomalyId: string, tx?: Transaction): Promise<AnomalyRecord | undefined>;
  /** Stores `a` iff the stored version is `a.version - 1`. */
  update(tx: Transaction, a: AnomalyRecord): Promise<boolean>;
  list(filter: AnomalyFilter, page: NewestPage): Promise<AnomalyRecord[]>;
}

/** Storage port of impersonation locks. */
export interface LockRepository {
  get(accountId: string, tx?: Transaction): Promise<LockRecord | undefined>;
  /** Stores `l` iff the stored version is `l.version - 1` (absent counts as 0). */
  put(tx: Transaction, l: LockRecord): Promise<boolean>;
}

/** Storage port of access reports. */
export interface AccessRepository {
  /** Stores the report unless its id exists; returns the stored one and whether it already was. */
  add(tx: Transaction, r: AccessReport): Promise<{ stored: AccessReport; duplicate: boolean }>;
  /** Every report of these grants. */
  forGrants(grantIds: string[]): Promise<AccessReport[]>;
}

/** Every port of the service, as the wiring opens them. */
export interface ImpersonationStores {
  grants: GrantRepository;
  bursts: BurstRepository;
  anomalies: AnomalyRepository;
  locks: LockRepository;
  access: AccessRepository;
}
