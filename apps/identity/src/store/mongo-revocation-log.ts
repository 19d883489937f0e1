import type { Transaction } from '@gatehouse/core';
import { inMongoTx, type MongoIndexSpec, type MongoStore } from '@gatehouse/storage';
import { docTurn } from './mongo-tx.js';
import type { RevocationEntry, RevocationKind, RevocationLog } from '../domain/sessions/revocation-log.js';

const REVOCATIONS = 'revocations';
const COUNTERS = 'revocation_counters';

interface RevocationDoc {
  _id: number;
  kind: RevocationKind;
  sessionId: string | null;
  accountId: string;
  revokedAt: Date;
  forgetAfter: Date;
}

/** The look-back by time and the pruning; `_id` is the sequence. */
export const revocationMongoIndexes: MongoIndexSpec[] = [
  { collection: REVOCATIONS, key: { revokedAt: 1 }, options: { name: 'revocations_revoked_at' } },
  { collection: REVOCATIONS, key: { forgetAfter: 1 }, options: { name: 'revocations_forget_after' } },
];

const toEntry = ({ _id, ...rest }: RevocationDoc): RevocationEntry => ({ ...rest, sequence: _id });

/**
 * Identity's revocation log on MongoDB. The sequence comes from a counter document
 * (findOneAndUpdate `$inc`, atomic per document), then the entry is inserted under it: two
 * replicas may commit 6 before 5, which is why the hub also re-reads recent entries by time.
 */
export class MongoRevocationLog implements RevocationLog {
  constructor(private readonly store: MongoStore) {}

  private get col() {
    return this.store.db.collection<RevocationDoc>(REVOCATIONS);
  }

  async append(tx: Transaction, e: Omit<RevocationEntry, 'sequence'>): Promise<RevocationEntry> {
    // A literal _id (a constant, never caller input) so the upsert creates the counter under it.
    // The counter's turn until the unit commits (jongodb lets two racing transactions both take
    // one sequence); across processes the server's write-conflict detection decides.
    await docTurn(tx, this.store, COUNTERS, 'revocations');
    const counter = await this.store.db
      .collection<{ _id: string; seq: number }>(COUNTERS)
      .findOneAndUpdate({ _id: 'revocations' }, { $inc: { seq: 1 } }, { upsert: true, returnDocument: 'after', ...inMongoTx(tx) });
    const sequence = Number(counter?.seq);
    if (!Number.isSafeInteger(sequence) || sequence < 1) throw new Error('revocation counter returned no sequence');
    const doc: RevocationDoc = {
      _id: sequence,
      kind: e.kind,
      sessionId: e.sessionId === null ? null : String(e.sessionId),
      accountId: String(e.accountId),
      revokedAt: new Date(e.revokedAt.getTime()),
      forgetAfter: new Date(e.forgetAfter.getTime()),
    };
    await this.col.insertOne(doc, inMongoTx(tx));
    return toEntry(doc);
  }

  async after(after: number, now: Date, limit: number): Promise<RevocationEntry[]> {
    const docs = await this.col
      .find({ _id: { $gt: Number(after) }, forgetAfter: { $gt: new Date(now.getTime()) } })
      .sort({ _id: 1 })
      .limit(limit)
      .toArray();
    return docs.map(toEntry);
  }

  async revokedSince(since: Date, limit: number): Promise<RevocationEntry[]> {
    const docs = await this.col.find({ revokedAt: { $gte: new Date(since.getTime()) } }).sort({ _id: 1 }).limit(limit).toArray();
    return docs.map(toEntry);
  }

  async head(): Promise<number> {
    const c = await this.store.db.collection<{ _id: string; seq: number }>(COUNTERS).findOne({ _id: { $eq: 'revocations' } });
    return c ? Number(c.seq) : 0;
  }

  async prune(now: Date): Promise<number> {
    const res = await this.col.deleteMany({ forgetAfter: { $lte: new Date(now.getTime()) } });
    return res.deletedCount;
  }
}
