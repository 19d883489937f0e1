import type { Transaction } from '@gatehouse/core';
import type { AuditEventData, LogRecord } from './event.js';

/** Encodes what a Merkle leaf commits to (LeafData); implemented outside the domain with the contracts. */
export interface LeafCodec {
  encode(leaf: { sequence: number; appendedAt: Date; submittedBy: string; event: AuditEventData }): Uint8Array;
  decode(leafInput: Uint8Array): { sequence: number; appendedAt: Date; submittedBy: string; event: AuditEventData };
}

/** A record as stored: the log record plus the digest used to recognise a retried event. */
export interface StoredRecord extends LogRecord {
  contentHash: string;
}

/**
 * Perfect nodes below this level are not stored: they are rebuilt from at most 2^(level-1) leaf
 * hashes on demand. Storing every node would double the rows an append writes; this stores one
 * node per 16 leaves and keeps every proof at O(log n) reads.
 */
export const MIN_STORED_NODE_LEVEL = 4;

/** Hash of a perfect subtree from its leaf hashes (a power-of-two count), bottom-up. */
export function foldPerfect(leafHashes: Uint8Array[], nodeHash: (l: Uint8Array, r: Uint8Array) => Uint8Array): Uint8Array {
  let level = leafHashes;
  while (level.length > 1) {
    const up: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) up.push(nodeHash(level[i]!, level[i + 1]!));
    level = up;
  }
  const root = level[0];
  if (!root) throw new Error('foldPerfect: no leaves');
  return root;
}

/**
 * The index columns of a stored entry: copies of leaf fields that queries filter on (and the
 * dedupe keys), so a query needs no decoding. One mapping, used by both adapters when they write
 * and by the integrity check when it compares a row with its leaf. Times are epoch milliseconds.
 */
export interface IndexColumns {
  eventId: string;
  contentHash: string;
  occurredAt: number;
  appendedAt: number;
  service: string;
  action: string;
  outcome: string;
  actorId: string;
  subjectKind: string | null;
  subjectId: string | null;
  customerDomain: string;
  sourceIp: string;
  environment: string;
  requestId: string;
  submittedBy: string;
}

/** What a record's index columns must hold. */
export function indexColumnsOf(r: StoredRecord): IndexColumns {
  const e = r.event;
  return {
    eventId: e.eventId,
    contentHash: r.contentHash,
    occurredAt: e.occurredAt.getTime(),
    appendedAt: r.appendedAt.getTime(),
    service: e.service,
    action: e.action,
    outcome: e.outcome,
    actorId: e.actor.id,
    subjectKind: e.subject?.kind ?? null,
    subjectId: e.subject?.id ?? null,
    customerDomain: e.customerDomain,
    sourceIp: e.sourceIp,
    environment: e.environment,
    requestId: e.requestId,
    submittedBy: r.submittedBy,
  };
}

/**
 * A stored row as the integrity check reads it, values as found: an edit outside audit may have
 * changed a value's type (a TEXT leaf, a string time), so nothing here is trusted to be typed.
 */
export interface RawRow {
  sequence: number;
  leafInput: unknown;
  leafHash: unknown;
  /** Each IndexColumns key, as stored (times as epoch milliseconds when they are times). */
  columns: { [K in keyof IndexColumns]: unknown };
}

/** A complete perfect Merkle subtree: hash of leaves [index·2^level, (index+1)·2^level). */
export interface MerkleNode {
  level: number;
  index: number;
  hash: Uint8Array;
}

/** A signed checkpoint as stored. */
export interface StoredCheckpoint {
  origin: string;
  treeSize: number;
  rootHash: Uint8Array;
  signedAt: Date;
  keyId: string;
  signature: Uint8Array;
}

/** Filters of Query (AND across fields, OR within a list). Typed values only (no query objects). */
export interface LogFilter {
  occurredFrom?: Date | undefined;
  occurredTo?: Date | undefined;
  services?: string[];
  actions?: string[];
  outcomes?: string[];
  actorId?: string | undefined;
  subjectKind?: string | undefined;
  subjectId?: string | undefined;
  customerDomain?: string | undefined;
  sourceIp?: string | undefined;
  environments?: string[];
  requestId?: string | undefined;
  fromSequence?: number | undefined;
  /** Exclusive. */
  toSequence?: number | undefined;
}

/** One page request of a query, in sequence order. */
export interface PageSpec {
  /** Continue after this sequence (ascending) or before it (descending). */
  after?: number | undefined;
  limit: number;
  descending: boolean;
  deadline?: Date | undefined;
}

/** What an append transaction may do; everything commits together or not at all. */
export interface AppendTx {
  /** The store transaction the append runs in: other repositories write through it to commit with the entries. */
  readonly tx: Transaction;
  treeSize(): Promise<number>;
  existing(eventIds: string[]): Promise<Map<string, { sequence: number; contentHash: string; appendedAt: Date }>>;
  /** A stored perfect node, read inside the transaction. */
  node(level: number, index: number): Promise<Uint8Array | undefined>;
  insert(records: StoredRecord[], nodes: MerkleNode[], newTreeSize: number): Promise<void>;
  /** Stores a checkpoint of the tree this transaction builds, so it commits with its entries (an existing one of that size is kept). */
  putCheckpoint(cp: StoredCheckpoint): Promise<void>;
}

/** The log's storage port. Adapters: SQLite and MongoDB, held to one contract suite. */
export interface LogRepository {
  /** Runs an append atomically; concurrent appends are serialised (gap-free sequence). */
  appendTransaction<T>(fn: (tx: AppendTx) => Promise<T>): Promise<T>;
  treeSize(): Promise<number>;
  /** Records with sequence in [from, to), ascending, at most `limit`. */
  range(from: number, to: number, limit: number): Promise<LogRecord[]>;
  query(filter: LogFilter, page: PageSpec): Promise<LogRecord[]>;
  /** Hash of a complete perfect subtree (level 0: a leaf hash); undefined if not complete. */
  node(level: number, index: number): Promise<Uint8Array | undefined>;
  putCheckpoint(cp: StoredCheckpoint): Promise<void>;
  checkpoint(treeSize: number): Promise<StoredCheckpoint | undefined>;
  latestCheckpoint(): Promise<StoredCheckpoint | undefined>;
  /** Stored checkpoints with tree size in (after, upTo], ascending. */
  checkpointsBetween(after: number, upTo: number): Promise<StoredCheckpoint[]>;
  /** Rows with sequence >= from, ascending, at most `limit`, undecoded (the integrity check's input). */
  rawRows(from: number, limit: number): Promise<RawRow[]>;
}

/** The Ed25519 key that signs checkpoints (kept outside the database). */
export interface CheckpointSigner {
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  sign(text: string): Uint8Array;
}
