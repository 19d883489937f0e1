import { Binary, type ClientSession, type Db, type Filter } from 'mongodb';
import type { Transaction } from '@gatehouse/core';
import { inTurnUntilCommit, mongoSession, type MongoIndexSpec, type MongoMigration, type MongoStore } from '@gatehouse/storage';
import type { LogRecord } from '../domain/event.js';
import { nodeHash } from '@gatehouse/merkle';
import { MIN_STORED_NODE_LEVEL, foldPerfect, indexColumnsOf, type AppendTx, type IndexColumns, type LeafCodec, type LogFilter, type LogRepository, type MerkleNode, type PageSpec, type RawRow, type StoredCheckpoint, type StoredRecord } from '../domain/ports.js';
import { recordFromLeaf } from './sqlite-log-repository.js';

const LOG = 'audit_log';
/** The index columns' field names (a document holds them under the IndexColumns keys). */
const COLUMN_KEYS: ReadonlyArray<keyof IndexColumns> = [
  'eventId', 'contentHash', 'occurredAt', 'appendedAt', 'service', 'action', 'outcome', 'actorId',
  'subjectKind', 'subjectId', 'customerDomain', 'sourceIp', 'environment', 'requestId', 'submittedBy',
];
const META = 'audit_meta';
const NODES = 'merkle_nodes';
const CHECKPOINTS = 'audit_checkpoints';

/** A stored entry: the shared index columns (times as Dates), plus the leaf and its hash. */
interface LogDoc extends Omit<IndexColumns, 'occurredAt' | 'appendedAt'> {
  _id: number;
  occurredAt: Date;
  appendedAt: Date;
  leafInput: Binary;
  leafHash: Binary;
}
interface MetaDoc {
  _id: string;
  size: number;
}
interface NodeDoc {
  _id: string;
  hash: Binary;
}
interface CheckpointDoc {
  _id: number;
  origin: string;
  rootHash: Binary;
  signedAt: Date;
  keyId: string;
  signature: Binary;
}

/** The tree-size document exists from the start, so appends only ever update it (compare-and-set). */
export const auditMongoMigrations: MongoMigration[] = [
  {
    id: 'audit-0001-tree',
    up: async (db) => {
      await db.collection<MetaDoc>(META).updateOne({ _id: 'tree' }, { $setOnInsert: { size: 0 } }, { upsert: true });
    },
  },
];

/** Indexes for Query's filters (each ends with the sequence for a stable order) and id lookups. */
export const auditMongoIndexes: MongoIndexSpec[] = [
  { collection: LOG, key: { eventId: 1 }, options: { name: 'audit_log_event_id', unique: true } },
  { collection: LOG, key: { occurredAt: 1, _id: 1 }, options: { name: 'audit_log_occurred' } },
  { collection: LOG, key: { actorId: 1, _id: 1 }, options: { name: 'audit_log_actor' } },
  { collection: LOG, key: { subjectId: 1, _id: 1 }, options: { name: 'audit_log_subject' } },
  { collection: LOG, key: { customerDomain: 1, _id: 1 }, options: { name: 'audit_log_domain' } },
  { collection: LOG, key: { sourceIp: 1, _id: 1 }, options: { name: 'audit_log_ip' } },
  { collection: LOG, key: { action: 1, _id: 1 }, options: { name: 'audit_log_action' } },
  { collection: LOG, key: { requestId: 1 }, options: { name: 'audit_log_request' } },
];

const bin = (b: Uint8Array) => new Binary(Buffer.from(b));
const buf = (b: Binary) => Buffer.from(b.buffer);
/** Bytes of a stored value, or the value itself when an edit made it something else. */
const bytesOrRaw = (v: unknown): unknown => (v instanceof Binary ? buf(v) : v);
/** Epoch milliseconds of a stored time, or the value itself when it is not a date. */
const timeOrRaw = (v: unknown): unknown => (v instanceof Date ? v.getTime() : v);

/** The index columns as a document's fields (times as Dates, as Query's filters expect). */
function indexFields(c: IndexColumns) {
  return { ...c, occurredAt: new Date(c.occurredAt), appendedAt: new Date(c.appendedAt) };
}
const nodeId = (level: number, index: number) => `${level}:${index}`;

function toCheckpoint(d: CheckpointDoc): StoredCheckpoint {
  return { treeSize: d._id, origin: d.origin, rootHash: buf(d.rootHash), signedAt: d.signedAt, keyId: d.keyId, signature: buf(d.signature) };
}

/** A Mongo filter from typed values only: a `$ne`-looking string stays a string to compare. */
export function mongoFilter(filter: LogFilter): Filter<LogDoc> {
  const f: Record<string, unknown> = {};
  const occurred: Record<string, Date> = {};
  if (filter.occurredFrom) occurred['$gte'] = filter.occurredFrom;
  if (filter.occurredTo) occurred['$lt'] = filter.occurredTo;
  if (Object.keys(occurred).length) f['occurredAt'] = occurred;
  const inList = (field: string, values: string[] | undefined) => {
    if (values && values.length > 0) f[field] = { $in: values.map(String) };
  };
  inList('service', filter.services);
  inList('action', filter.actions);
  inList('outcome', filter.outcomes);
  inList('environment', filter.environments);
  const eq = (field: string, v: string | undefined) => {
    if (v !== undefined) f[field] = { $eq: String(v) };
  };
  eq('actorId', filter.actorId);
  eq('subjectKind', filter.subjectKind);
  eq('subjectId', filter.subjectId);
  eq('customerDomain', filter.customerDomain);
  eq('sourceIp', filter.sourceIp);
  eq('requestId', filter.requestId);
  const seq: Record<string, number> = {};
  if (filter.fromSequence !== undefined) seq['$gte'] = filter.fromSequence;
  if (filter.toSequence !== undefined) seq['$lt'] = filter.toSequence;
  if (Object.keys(seq).length) f['_id'] = seq;
  return f as Filter<LogDoc>;
}

/** The log on MongoDB: one multi-document transaction per batch; the tree size is compare-and-set. */
export class MongoLogRepository implements LogRepository {
  constructor(
    private readonly store: MongoStore,
    private readonly codec: LeafCodec,
  ) {}

  private record(d: Pick<LogDoc, '_id' | 'leafInput' | 'leafHash'>): LogRecord {
    return recordFromLeaf(this.codec, d._id, bytesOrRaw(d.leafInput), bytesOrRaw(d.leafHash));
  }

  private txFor(tx: Transaction, db: Db, session: ClientSession): AppendTx {
    return {
      tx,
      treeSize: async () => (await db.collection<MetaDoc>(META).findOne({ _id: 'tree' }, { session }))?.size ?? 0,
      node: (level, index) => readNode(db, level, index, session),
      existing: async (ids) => {
        const out = new Map<string, { sequence: number; contentHash: string; appendedAt: Date }>();
        const docs = await db
          .collection<LogDoc>(LOG)
          .find({ eventId: { $in: ids.map(String) } }, { session })
          .toArray();
        for (const d of docs) out.set(d.eventId, { sequence: d._id, contentHash: d.contentHash, appendedAt: d.appendedAt });
        return out;
      },
      insert: async (records: StoredRecord[], nodes: MerkleNode[], newTreeSize: number) => {
        const oldSize = newTreeSize - records.length;
        const moved = await db
          .collection<MetaDoc>(META)
          .updateOne({ _id: 'tree', size: oldSize }, { $set: { size: newTreeSize } }, { session });
        if (moved.modifiedCount !== 1) throw new Error('audit log: the tree grew concurrently; retry the append');
        await db.collection<LogDoc>(LOG).insertMany(
          records.map((r) => ({
            _id: r.sequence,
            ...indexFields(indexColumnsOf(r)),
            leafInput: bin(r.leafInput),
            leafHash: bin(r.leafHash),
          })),
          { session, ordered: true },
        );
        const stored = nodes.filter((n) => n.level >= MIN_STORED_NODE_LEVEL);
        if (stored.length > 0) {
          await db.collection<NodeDoc>(NODES).insertMany(
            stored.map((n) => ({ _id: nodeId(n.level, n.index), hash: bin(n.hash) })),
            { session, ordered: true },
          );
        }
      },
      putCheckpoint: (cp) => this.upsertCheckpoint(cp, session),
    };
  }

  appendTransaction<T>(fn: (tx: AppendTx) => Promise<T>): Promise<T> {
    // Two audit replicas race for the next sequence: the tree's turn makes one wait until the
    // other's batch has committed (jongodb would let both pass the size compare-and-set). It is
    // taken before the unit's first operation, an alert's own writes included: a snapshot taken
    // earlier would read the tree as it was before the other replica's batch.
    return this.store.run(async (tx: Transaction) => {
      await inTurnUntilCommit(tx, `${this.store.db.databaseName}/${META}/tree`);
      return fn(this.txFor(tx, this.store.db, mongoSession(tx)));
    });
  }

  async treeSize(): Promise<number> {
    return (await this.store.db.collection<MetaDoc>(META).findOne({ _id: 'tree' }))?.size ?? 0;
  }

  async range(from: number, to: number, limit: number): Promise<LogRecord[]> {
    const docs = await this.store.db
      .collection<LogDoc>(LOG)
      .find({ _id: { $gte: from, $lt: to } })
      .sort({ _id: 1 })
      .limit(limit)
      .toArray();
    return docs.map((d) => this.record(d));
  }

  async query(filter: LogFilter, page: PageSpec): Promise<LogRecord[]> {
    const f = mongoFilter(filter) as Record<string, unknown>;
    if (page.after !== undefined) {
      const seq = { ...((f['_id'] as Record<string, number> | undefined) ?? {}) };
      seq[page.descending ? '$lt' : '$gt'] = page.after;
      f['_id'] = seq;
    }
    const docs = await this.store.db
      .collection<LogDoc>(LOG)
      .find(f as Filter<LogDoc>, { maxTimeMS: this.store.maxTimeMS(page.deadline) })
      .sort({ _id: page.descending ? -1 : 1 })
      .limit(page.limit)
      .toArray();
    return docs.map((d) => this.record(d));
  }

  node(level: number, index: number): Promise<Uint8Array | undefined> {
    return readNode(this.store.db, level, index, undefined);
  }

  putCheckpoint(cp: StoredCheckpoint): Promise<void> {
    return this.upsertCheckpoint(cp, undefined);
  }

  /** Stores a checkpoint unless one of its size exists, inside the append's session when given. */
  private async upsertCheckpoint(cp: StoredCheckpoint, session: ClientSession | undefined): Promise<void> {
    await this.store.db.collection<CheckpointDoc>(CHECKPOINTS).updateOne(
      { _id: cp.treeSize },
      { $setOnInsert: { origin: cp.origin, rootHash: bin(cp.rootHash), signedAt: cp.signedAt, keyId: cp.keyId, signature: bin(cp.signature) } },
      session ? { upsert: true, session } : { upsert: true },
    );
  }

  async checkpoint(treeSize: number): Promise<StoredCheckpoint | undefined> {
    const d = await this.store.db.collection<CheckpointDoc>(CHECKPOINTS).findOne({ _id: treeSize });
    return d ? toCheckpoint(d) : undefined;
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const [d] = await this.store.db.collection<CheckpointDoc>(CHECKPOINTS).find({}).sort({ _id: -1 }).limit(1).toArray();
    return d ? toCheckpoint(d) : undefined;
  }

  async rawRows(from: number, limit: number): Promise<RawRow[]> {
    const docs = await this.store.db
      .collection<Record<string, unknown> & { _id: number }>(LOG)
      .find({ _id: { $gte: from } })
      .sort({ _id: 1 })
      .limit(limit)
      .toArray();
    return docs.map((d) => {
      const columns = Object.fromEntries(COLUMN_KEYS.map((k) => [k, d[k]])) as RawRow['columns'];
      columns.occurredAt = timeOrRaw(d['occurredAt']);
      columns.appendedAt = timeOrRaw(d['appendedAt']);
      return { sequence: d._id, leafInput: bytesOrRaw(d['leafInput']), leafHash: bytesOrRaw(d['leafHash']), columns };
    });
  }

  async checkpointsBetween(after: number, upTo: number): Promise<StoredCheckpoint[]> {
    const docs = await this.store.db
      .collection<CheckpointDoc>(CHECKPOINTS)
      .find({ _id: { $gt: after, $lte: upTo } })
      .sort({ _id: 1 })
      .toArray();
    return docs.map(toCheckpoint);
  }
}

async function readNode(db: Db, level: number, index: number, session: ClientSession | undefined): Promise<Uint8Array | undefined> {
  if (level === 0) {
    const d = await db.collection<LogDoc>(LOG).findOne({ _id: index }, { session, projection: { leafHash: 1 } });
    return d && d.leafHash instanceof Binary ? buf(d.leafHash) : undefined;
  }
  if (level < MIN_STORED_NODE_LEVEL) {
    const width = 2 ** level;
    const docs = await db
      .collection<LogDoc>(LOG)
      .find({ _id: { $gte: index * width, $lt: (index + 1) * width } }, { session })
      .sort({ _id: 1 })
      .toArray();
    return docs.length === width ? foldPerfect(docs.map((d) => buf(d.leafHash)), nodeHash) : undefined;
  }
  const n = await db.collection<NodeDoc>(NODES).findOne({ _id: nodeId(level, index) }, { session });
  return n ? buf(n.hash) : undefined;
}
