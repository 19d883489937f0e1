import type { Transaction } from '@gatehouse/core';
import { insertOrAlreadyExists, mongoSession, type MongoIndexSpec, type MongoStore } from '@gatehouse/storage';
import type { Actor, AllowlistEntry, EntryRepository } from '../domain/model.js';

const ENTRIES = 'entries';

interface EntryDoc extends Omit<AllowlistEntry, 'entryId'> {
  _id: string;
}

/** One active entry per CIDR and scope (the unique active key), and the active listing. */
export const entryMongoIndexes: MongoIndexSpec[] = [
  { collection: ENTRIES, key: { activeKey: 1 }, options: { name: 'entries_active_key', unique: true } },
  { collection: ENTRIES, key: { removedAt: 1, createdAt: 1, _id: 1 }, options: { name: 'entries_active' } },
];

const toEntry = ({ _id, ...rest }: EntryDoc): AllowlistEntry => ({ ...rest, entryId: _id });

function toDoc(e: AllowlistEntry): EntryDoc {
  const { entryId, ...rest } = e;
  return { ...rest, _id: entryId };
}

/**
 * Enumerated entries on MongoDB. The unique index on `activeKey` keeps one active entry per CIDR
 * and scope; removal is one single-document compare-and-set (still active → removed, active key
 * freed) that returns the document it wrote.
 */
export class MongoEntryRepository implements EntryRepository {
  constructor(private readonly store: MongoStore) {}

  private get col() {
    return this.store.db.collection<EntryDoc>(ENTRIES);
  }

  async create(tx: Transaction, e: AllowlistEntry): Promise<void> {
    const session = mongoSession(tx);
    await insertOrAlreadyExists(() => this.col.insertOne(toDoc(e), { session }), 'an active entry for this CIDR and scope (or an entry with this id) already exists');
  }

  async get(entryId: string): Promise<AllowlistEntry | undefined> {
    const d = await this.col.findOne({ _id: { $eq: String(entryId) } });
    return d ? toEntry(d) : undefined;
  }

  async remove(tx: Transaction, entryId: string, at: Date, by: Actor, reason: string): Promise<AllowlistEntry | undefined> {
    const id = String(entryId);
    const session = mongoSession(tx);
    // Built from typed values only: no caller object reaches the update.
    const d = await this.col.findOneAndUpdate(
      { _id: { $eq: id }, removedAt: { $eq: null } },
      {
        $set: {
          removedAt: new Date(at.getTime()),
          removedBy: { accountId: String(by.accountId), email: String(by.email) },
          removeReason: String(reason),
          activeKey: id,
        },
      },
      { returnDocument: 'after', session },
    );
    return d ? toEntry(d) : undefined;
  }

  async listActive(): Promise<AllowlistEntry[]> {
    return (await this.col.find({ removedAt: { $eq: null } }).sort({ createdAt: 1, _id: 1 }).toArray()).map(toEntry);
  }
}
