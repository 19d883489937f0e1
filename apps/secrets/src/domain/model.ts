import type { Transaction } from '@gatehouse/core';

/** The data environments (P1). */
export type Environment = 'live' | 'staging';

/** Who did something (from the verified session). */
export interface Actor {
  accountId: string;
  email: string;
}

/**
 * One version of a secret value, stored only as envelope ciphertext (issue 6 item 2): the value
 * under a fresh data key, the data key wrapped by the master key of `masterKeyVersion`. The
 * AAD of both binds environment, app, name and version, so a ciphertext moved to another row
 * does not decrypt. `destroyedAt` set = the ciphertext was erased (DeleteSecret).
 */
export interface SecretVersion {
  environment: Environment;
  app: string;
  name: string;
  version: number;
  /** base64 of the value ciphertext, its IV and tag; empty once destroyed. */
  ciphertext: string;
  iv: string;
  tag: string;
  /** base64 of the wrapped data key (with its own IV and tag inside). */
  wrappedDataKey: string;
  masterKeyVersion: number;
  createdAt: Date;
  createdBy: Actor;
  destroyedAt: Date | null;
}

/** The metadata of a secret: its latest version and its history (never the value). */
export interface SecretHead {
  environment: Environment;
  app: string;
  name: string;
  latestVersion: number;
  createdAt: Date;
  updatedAt: Date;
  updatedBy: Actor;
  deletedAt: Date | null;
  deletedBy: Actor | null;
}

/** Storage port of secrets; SQLite and MongoDB adapters pass one contract suite. */
export interface SecretRepository {
  /**
   * Stores version `v.version` and moves the head to it. The version row is unique on
   * (environment, app, name, version): AlreadyExistsError when a concurrent Put took the number
   * (the caller re-reads the head and retries with the next one).
   */
  putVersion(tx: Transaction, v: SecretVersion, head: SecretHead): Promise<void>;
  /** With `tx`: read inside that unit of work (a use case's decision); without: committed data. */
  head(environment: Environment, app: string, name: string, tx?: Transaction): Promise<SecretHead | undefined>;
  version(environment: Environment, app: string, name: string, version: number, tx?: Transaction): Promise<SecretVersion | undefined>;
  /** The latest live (not deleted) version of each secret of the app, for a release snapshot. */
  latestOfApp(environment: Environment, app: string, tx?: Transaction): Promise<SecretVersion[]>;
  /** Heads for ListSecrets, ordered by environment, app, name; keyset after the previous page's last. */
  list(filter: { environment?: Environment; app?: string; includeDeleted: boolean }, page: { after?: { environment: string; app: string; name: string } | undefined; limit: number }): Promise<SecretHead[]>;
  /** Marks the head deleted and erases the ciphertexts of every version; false if unknown or already deleted. */
  delete(tx: Transaction, environment: Environment, app: string, name: string, at: Date, by: Actor): Promise<boolean>;
  /** Versions still wrapped under a master key version other than `current` (rotation), up to `limit`. */
  wrappedUnder(notVersion: number, limit: number): Promise<SecretVersion[]>;
  /** Replaces a version's wrapped data key iff it is still wrapped under `fromMasterVersion` (compare-and-set). */
  rewrap(tx: Transaction, v: SecretVersion, fromMasterVersion: number, wrappedDataKey: string, toMasterVersion: number): Promise<boolean>;
}

/** Release life cycle (secrets.v1.ReleaseState). */
export type ReleaseState = 'pending_approval' | 'ready' | 'redeemed' | 'expired' | 'revoked';

/** An approval of a release (M-of-N, issue 6 item 3). */
export interface ReleaseApproval {
  approver: Actor;
  approvedAt: Date;
  note: string;
}

/**
 * A release of an app's secrets for one environment and one deployment (P3: "used once at each
 * deployment"). The token is 256 random bits, returned once and stored only as `tokenHash`.
 * Every transition is a single-document compare-and-set on `state` (and `version`), so the
 * READY → REDEEMED step happens once whatever the concurrency, and survives a crash after commit.
 */
export interface ReleaseRecord {
  releaseId: string;
  tokenHash: string;
  environment: Environment;
  app: string;
  deploymentRef: string;
  state: ReleaseState;
  createdBy: Actor;
  createdAt: Date;
  expiresAt: Date;
  boundCidr: string | null;
  boundClientIdentity: string | null;
  requiredApprovals: number;
  approvals: ReleaseApproval[];
  /** The snapshot: which version of which secret the bundle holds. */
  secrets: Array<{ name: string; version: number }>;
  redeemedAt: Date | null;
  redeemedByIdentity: string | null;
  redeemedFromIp: string | null;
  refusedRedemptionCount: number;
  revokedAt: Date | null;
  revokedBy: Actor | null;
  revokeReason: string | null;
  /** Set once the "expired unredeemed" alert event was emitted. */
  expiryReported: boolean;
  version: number;
}

/** ListReleases' filters (AND); `createdFrom` inclusive, `createdTo` exclusive. */
export interface ReleaseFilter {
  environment?: Environment;
  app?: string;
  deploymentRef?: string;
  states?: ReleaseState[];
  createdFrom?: Date;
  createdTo?: Date;
}

/** Storage port of releases; SQLite and MongoDB adapters pass one contract suite. */
export interface ReleaseRepository {
  create(tx: Transaction, r: ReleaseRecord): Promise<void>;
  /** With `tx`: read inside that unit of work; without: committed data. */
  get(releaseId: string, tx?: Transaction): Promise<ReleaseRecord | undefined>;
  byTokenHash(tokenHash: string, tx?: Transaction): Promise<ReleaseRecord | undefined>;
  /**
   * The redemption: READY → REDEEMED iff the stored release with this token hash is READY and
   * `expiresAt > now`, in ONE conditional update; returns the redeemed record, or undefined when
   * it was not READY (any more) — exactly one of N concurrent callers gets it.
   */
  redeem(tx: Transaction, tokenHash: string, now: Date, by: { identity: string; ip: string }): Promise<ReleaseRecord | undefined>;
  /** Replaces the record iff its stored version is `r.version - 1` (approvals, revocation, expiry). */
  update(tx: Transaction, r: ReleaseRecord): Promise<boolean>;
  /** Counts a refused redemption (for the history), whatever the state. */
  countRefusal(tx: Transaction, releaseId: string): Promise<void>;
  /** Newest first; keyset pagination. */
  list(filter: ReleaseFilter, page: { after?: { createdAt: Date; releaseId: string } | undefined; limit: number }): Promise<ReleaseRecord[]>;
  /** Releases past `now` that are still PENDING_APPROVAL or READY, or expired but not yet reported. */
  dueForExpiry(now: Date, limit: number): Promise<ReleaseRecord[]>;
}
