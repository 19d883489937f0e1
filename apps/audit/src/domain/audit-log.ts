import { createHash, createHmac } from 'node:crypto';
import { AlreadyExistsError, InvalidArgumentError, UnavailableError, type Clock, type Transaction } from '@gatehouse/core';
import type { CompactRange} from '@gatehouse/merkle';
import { checkpointText, compactRangeAt, consistencyProof, inclusionProof, leafHash, type NodeReader } from '@gatehouse/merkle';
import type { AuditEventData, LogRecord } from './event.js';
import type { IntegrityFailure } from './log-integrity.js';
import type { CheckpointSigner, LeafCodec, LogFilter, LogRepository, MerkleNode, StoredCheckpoint, StoredRecord } from './ports.js';
import { APPEND_LIMITS, isCanonicalIp, validateBatch } from '@gatehouse/audit-client';

/** The result of appending one event. */
export interface AppendOutcome {
  eventId: string;
  sequence: number;
  duplicate: boolean;
  appendedAt: Date;
}

/** Wiring of the log. */
export interface AuditLogOptions {
  repo: LogRepository;
  codec: LeafCodec;
  signer: CheckpointSigner;
  clock: Clock;
  /** Per-deployment HMAC key for hashed_details (kept outside the database). */
  hmacKey: Uint8Array;
  /** Identity of the log in checkpoints. */
  origin: string;
  /** Sign a checkpoint whenever the log grows past another multiple of this many entries. */
  checkpointEvery: number;
  /** Called after each committed append, in sequence order (Watch, alert rules). */
  onAppended?: (records: LogRecord[]) => void;
}

/**
 * Append refused because the log failed its integrity check (issue 13 item 7). UNAVAILABLE, as
 * health says NOT_SERVING: emitters keep their events in their outbox and retry, and critical
 * actions fail closed, exactly as when audit is down, until the officer restores the database
 * and restarts audit. (FAILED_PRECONDITION would tell a relay not to retry, and those events
 * belong in the repaired log.)
 */
export class LogWritesRefusedError extends UnavailableError {}

/** "hmac-sha256:<hex>" of a value under the deployment key: searchable, not readable (as Vault does). */
export function hmacForm(key: Uint8Array, value: string): string {
  return `hmac-sha256:${createHmac('sha256', key).update(value, 'utf8').digest('hex')}`;
}

/** A stable digest of an event's content, to tell a retry from a different event reusing an id. */
export function contentHashOf(e: AuditEventData): string {
  // Fields joined with NUL (which validation keeps out of every string), maps in key order: one
  // unambiguous byte string per event content, cheaper than JSON on the append hot path. Built
  // as one string and hashed with one update (the same bytes as one update per field, so stored
  // hashes still match): each update is a call into the native hash.
  const parts: string[] = [e.eventId, String(e.occurredAt.getTime()), e.service, e.action, e.outcome, e.actor.kind, e.actor.id, e.actor.displayName];
  if (e.subject) parts.push('S', e.subject.kind, e.subject.id, e.subject.displayName);
  else parts.push('-');
  parts.push(e.customerDomain, e.sourceIp, e.environment, e.requestId);
  for (const m of [e.details, e.hashedDetails]) {
    const keys = Object.keys(m).sort();
    parts.push(String(keys.length));
    for (const k of keys) parts.push(k, m[k] ?? '');
  }
  // Only when set, so events stored before these fields existed keep their hash.
  if (e.intentEventId || e.causalCounter) parts.push('C', e.intentEventId ?? '', String(e.causalCounter ?? 0));
  parts.push('');
  return createHash('sha256').update(parts.join('\u0000')).digest('hex');
}

/** Proof and range reads inside an append transaction. */
function txReader(tx: { node(level: number, index: number): Promise<Uint8Array | undefined> }): NodeReader {
  return {
    perfectNode: async (level, index) => {
      const h = await tx.node(level, index);
      if (!h) throw new Error(`merkle node (${level}, ${index}) is missing`);
      return h;
    },
  };
}

/** Serialises async sections within this process (the store serialises across processes). */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/**
 * The tamper-evident log (DESIGN.md §5): validates and appends events with a gap-free sequence,
 * keeps the RFC 9162 Merkle tree's perfect nodes in the store, signs checkpoints, and serves
 * proofs. Appends are idempotent by event id.
 */
export class AuditLog {
  private frontier: CompactRange | undefined;
  private readonly appends = new Mutex();
  private refused: IntegrityFailure | undefined;

  constructor(private readonly o: AuditLogOptions) {}

  /** A NodeReader over the store, for proofs. */
  private readonly reader: NodeReader = {
    perfectNode: async (level, index) => {
      const h = await this.o.repo.node(level, index);
      if (!h) throw new Error(`merkle node (${level}, ${index}) is missing`);
      return h;
    },
  };

  /**
   * Loads the tree's right edge from the store (at start, and when another replica appended).
   * A store it cannot be read from (damaged outside audit) leaves it unloaded: each append then
   * reads it in its transaction, and the integrity check names the damage.
   */
  async init(): Promise<void> {
    try {
      this.frontier = await compactRangeAt(this.reader, await this.o.repo.treeSize());
    } catch {
      this.frontier = undefined;
    }
  }

  /** From now on, appends and new checkpoint signatures are refused: the stored log is not what audit wrote. */
  refuseWrites(failure: IntegrityFailure): void {
    this.refused ??= failure;
  }

  /** The integrity failure writes are refused for, if any. */
  get integrityFailure(): IntegrityFailure | undefined {
    return this.refused;
  }

  private assertWritable(what: string): void {
    const f = this.refused;
    if (f) {
      throw new LogWritesRefusedError(
        `audit log integrity check failed at sequence ${f.sequence} (${f.detail}); ${what} refused until the database is restored and audit restarted; reads and exports still work`,
      );
    }
  }

  /** Current number of entries. */
  treeSize(): Promise<number> {
    return this.o.repo.treeSize();
  }

  /** Replaces clear hashed_details values with their HMAC form. */
  private protect(e: AuditEventData): AuditEventData {
    // Most events carry no hashed details: nothing to replace, no copy (the append path runs this per event).
    if (Object.keys(e.hashedDetails).length === 0) return e;
    const hashed: Record<string, string> = {};
    for (const [k, v] of Object.entries(e.hashedDetails)) hashed[k] = hmacForm(this.o.hmacKey, v);
    return { ...e, hashedDetails: hashed };
  }

  /** The HMAC form of a value, for investigators (`gatehouse audit hash`). */
  hashValue(value: string): string {
    if (value.length === 0) throw new InvalidArgumentError('value', 'is empty');
    if (Buffer.byteLength(value, 'utf8') > 1024) throw new InvalidArgumentError('value', 'is longer than 1024 bytes');
    return hmacForm(this.o.hmacKey, value);
  }

  /**
   * Appends a batch atomically. The batch is validated whole first; an event whose id is
   * already in the log with the same content is a duplicate (its original sequence comes back),
   * with different content the whole batch is refused ALREADY_EXISTS.
   */
  async append(events: AuditEventData[], caller: { kind: string; name: string }): Promise<AppendOutcome[]> {
    this.assertWritable('appends are');
    const now = this.o.clock.now();
    validateBatch(events, caller, now);
    const prepared = this.prepareAll(events);
    return (await this.commit(caller, now, async () => ({ prepared, result: undefined }))).outcomes;
  }

  /**
   * One unit of work of audit's own (issue 14): `work` writes audit's state (an alert raised or
   * acknowledged) through the append's own transaction and returns the events that record it;
   * the state and its entries commit together, or neither does.
   */
  async appendWithin<T>(
    caller: { kind: string; name: string },
    work: (tx: Transaction) => Promise<{ events: AuditEventData[]; result: T }>,
  ): Promise<{ result: T; outcomes: AppendOutcome[] }> {
    this.assertWritable('appends are');
    const now = this.o.clock.now();
    return this.commit(caller, now, async (tx) => {
      const { events, result } = await work(tx);
      // No events (an alert already acknowledged): the unit carries only what work wrote, if anything.
      if (events.length > 0) validateBatch(events, caller, now);
      return { prepared: this.prepareAll(events), result };
    });
  }

  private prepareAll(events: AuditEventData[]): Array<{ event: AuditEventData; contentHash: string }> {
    return events.map((e) => {
      const event = this.protect(e);
      return { event, contentHash: contentHashOf(event) };
    });
  }

  private async commit<T>(
    caller: { kind: string; name: string },
    now: Date,
    work: (tx: Transaction) => Promise<{ prepared: Array<{ event: AuditEventData; contentHash: string }>; result: T }>,
  ): Promise<{ result: T; outcomes: AppendOutcome[] }> {
    const submittedBy = `${caller.kind}:${caller.name}`;
    const { outcomes, records, frontier, result } = await this.appends.run(() =>
      this.o.repo.appendTransaction(async (tx) => {
        const { prepared, result } = await work(tx.tx);
        const size = await tx.treeSize();
        let base = this.frontier;
        if (!base || base.size !== size) base = await compactRangeAt(txReader(tx), size);
        const existing = await tx.existing(prepared.map((p) => p.event.eventId));
        const f = base.clone();
        const outcomes: AppendOutcome[] = [];
        const records: StoredRecord[] = [];
        const nodes: MerkleNode[] = [];
        prepared.forEach((p, i) => {
          const found = existing.get(p.event.eventId);
          if (found) {
            if (found.contentHash !== p.contentHash) {
              throw new AlreadyExistsError(
                `events[${i}] (${p.event.eventId}): this event id is already in the log (sequence ${found.sequence}) with different content`,
              );
            }
            outcomes.push({ eventId: p.event.eventId, sequence: found.sequence, duplicate: true, appendedAt: found.appendedAt });
            return;
          }
          const sequence = size + records.length;
          const leafInput = this.o.codec.encode({ sequence, appendedAt: now, submittedBy, event: p.event });
          const hash = leafHash(leafInput);
          f.append(hash, (level, index, h) => {
            if (level > 0) nodes.push({ level, index, hash: h });
          });
          records.push({ sequence, event: p.event, appendedAt: now, submittedBy, leafInput, leafHash: hash, contentHash: p.contentHash });
          outcomes.push({ eventId: p.event.eventId, sequence, duplicate: false, appendedAt: now });
        });
        // The batch bound (contract: 1 MiB) on the encoded events, measured on the leaves we built anyway.
        const bytes = records.reduce((n, r) => n + r.leafInput.length, 0);
        if (bytes > APPEND_LIMITS.maxBatchBytes) {
          throw new InvalidArgumentError('events', `the batch encodes to ${bytes} bytes; at most ${APPEND_LIMITS.maxBatchBytes}`);
        }
        if (records.length > 0) {
          await tx.insert(records, nodes, f.size);
          // A checkpoint due at this size is signed over the tree just built (its root is the
          // frontier's, no re-read) and commits with the entries: one commit, and no moment at
          // which the entries are durable but the checkpoint owed for them is not.
          const every = this.o.checkpointEvery;
          if (Math.floor(f.size / every) > Math.floor(size / every)) await tx.putCheckpoint(this.sign(f.size, f.root()));
        }
        return { outcomes, records, frontier: f, result };
      }),
    );
    this.frontier = frontier;
    if (records.length > 0) this.o.onAppended?.(records);
    return { result, outcomes };
  }

  /** A signed checkpoint of the tree of `size` entries whose root is `rootHash`. */
  private sign(size: number, rootHash: Uint8Array): StoredCheckpoint {
    const cp = { origin: this.o.origin, treeSize: size, rootHash, signedAt: this.o.clock.now(), keyId: this.o.signer.keyId };
    return { ...cp, signature: this.o.signer.sign(checkpointText(cp)) };
  }

  /** The root hash of the first `size` entries. */
  async rootAt(size: number): Promise<Uint8Array> {
    return (await compactRangeAt(this.reader, size)).root();
  }

  /**
   * The latest checkpoint, or (fresh) one signed now over the current tree unless the latest
   * already covers it.
   */
  async checkpoint(fresh: boolean): Promise<StoredCheckpoint> {
    const latest = await this.o.repo.latestCheckpoint();
    if (latest && this.refused) return latest;
    const size = await this.o.repo.treeSize();
    if (latest && (!fresh || latest.treeSize === size)) return latest;
    return this.checkpointAt(size);
  }

  /** Where an export ends by default: the current size, or (writes refused) the last size audit signed. */
  async exportableSize(): Promise<number> {
    if (this.refused) return (await this.o.repo.latestCheckpoint())?.treeSize ?? 0;
    return this.o.repo.treeSize();
  }

  /** The checkpoint of exactly `size` entries: the stored one, or one signed now. */
  async checkpointAt(size: number): Promise<StoredCheckpoint> {
    const stored = await this.o.repo.checkpoint(size);
    if (stored) return stored;
    this.assertWritable(`signing a checkpoint of ${size} entries is`);
    const full = this.sign(size, await this.rootAt(size));
    await this.o.repo.putCheckpoint(full);
    return full;
  }

  /** Signs a checkpoint if the log grew since the last one (the periodic T-seconds timer). */
  async checkpointIfGrown(): Promise<StoredCheckpoint | undefined> {
    if (this.refused) return undefined;
    const latest = await this.o.repo.latestCheckpoint();
    const size = await this.o.repo.treeSize();
    if (size === 0 || latest?.treeSize === size) return undefined;
    return this.checkpointAt(size);
  }

  private async checkSize(name: string, size: number): Promise<number> {
    const current = await this.o.repo.treeSize();
    if (!Number.isSafeInteger(size) || size < 0) throw new InvalidArgumentError(name, 'must be a non-negative integer');
    if (size > current) throw new InvalidArgumentError(name, `${size} exceeds the current tree size ${current}`);
    return current;
  }

  /** RFC 9162 inclusion proof of entry `sequence` in the tree of `treeSize` (default: current). */
  async inclusionProof(sequence: number, treeSize?: number): Promise<{ leafIndex: number; treeSize: number; leafHash: Uint8Array; path: Uint8Array[] }> {
    const size = treeSize ?? (await this.o.repo.treeSize());
    await this.checkSize('tree_size', size);
    if (!Number.isSafeInteger(sequence) || sequence < 0 || sequence >= size) {
      throw new InvalidArgumentError('sequence', `must be below the tree size ${size}`);
    }
    const leafHash = await this.reader.perfectNode(0, sequence);
    return { leafIndex: sequence, treeSize: size, leafHash, path: await inclusionProof(this.reader, sequence, size) };
  }

  /** RFC 9162 consistency proof from `first` to `second` (default: current). */
  async consistencyProof(first: number, second?: number): Promise<{ first: number; second: number; proof: Uint8Array[] }> {
    const size2 = second ?? (await this.o.repo.treeSize());
    await this.checkSize('second_tree_size', size2);
    if (!Number.isSafeInteger(first) || first < 0 || first > size2) {
      throw new InvalidArgumentError('first_tree_size', `must be between 0 and ${size2}`);
    }
    return { first, second: size2, proof: await consistencyProof(this.reader, first, size2) };
  }

  /** Hashes of the perfect subtrees covering [0, size): an export's prefix. */
  async prefixSubtrees(size: number): Promise<Uint8Array[]> {
    return (await compactRangeAt(this.reader, size)).subtrees();
  }

  /** Validates a query filter (typed values only) and returns one page. */
  async query(filter: LogFilter, page: { after?: number | undefined; limit: number; descending: boolean; deadline?: Date | undefined }): Promise<LogRecord[]> {
    if (filter.sourceIp !== undefined && !isCanonicalIp(filter.sourceIp)) {
      throw new InvalidArgumentError('filter.source_ip', 'is not a canonical IPv4 or IPv6 address');
    }
    if (filter.occurredFrom && filter.occurredTo && filter.occurredFrom > filter.occurredTo) {
      throw new InvalidArgumentError('filter.occurred', 'start_time is after end_time');
    }
    if (filter.fromSequence !== undefined && filter.toSequence !== undefined && filter.fromSequence > filter.toSequence) {
      throw new InvalidArgumentError('from_sequence', 'is after to_sequence');
    }
    if (!Number.isInteger(page.limit) || page.limit < 1 || page.limit > 1000) throw new InvalidArgumentError('page_size', 'must be between 1 and 1000');
    return this.o.repo.query(filter, page);
  }

  /** Entries [from, to) in order, for Watch and Export. */
  range(from: number, to: number, limit: number): Promise<LogRecord[]> {
    return this.o.repo.range(from, to, limit);
  }

  /** Stored checkpoints in (after, upTo]. */
  checkpointsBetween(after: number, upTo: number): Promise<StoredCheckpoint[]> {
    return this.o.repo.checkpointsBetween(after, upTo);
  }
}
