import { Binary, type ClientSession, type Db, type ObjectId } from 'mongodb';
import type { Transaction } from '@gatehouse/core';
import type { MongoIndexSpec, MongoStore } from '@gatehouse/storage';
import {
  checkAcks,
  checkEventId,
  checkEventIds,
  checkOutboxDate,
  checkOutboxEvents,
  checkPendingArgs,
  clipOutboxError,
  type OutboxAck,
  type OutboxEvent,
  type OutboxRecord,
  type OutboxRepository,
} from './outbox-repository.js';

const OUTBOX = 'audit_outbox';
const COUNTERS = 'audit_outbox_counters';
const SEQ_COUNTER = 'seq';

/**
 * The outbox indexes. A service appends these to its own MongoDB index list: eventId is unique
 * (idempotent adds), and the pending index serves the relay's query in insertion order.
 */
export const outboxMongoIndexes: readonly MongoIndexSpec[] = [
  { collection: OUTBOX, key: { eventId: 1 }, options: { name: 'audit_outbox_event_id', unique: true } },
  { collection: OUTBOX, key: { shippedAt: 1, nextAttemptAt: 1, seq: 1 }, options: { name: 'audit_outbox_pending' } },
];

/** Stored shape. Unset states are null (not missing) so they can be matched and indexed. */
interface OutboxDoc {
  _id?: ObjectId;
  eventId: string;
  /** Local insertion sequence, from the counter document. */
  seq: number;
  payload: Binary;
  createdAt: Date;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  shippedAt: Date | null;
  sequence: number | null;
}

interface CounterDoc {
  _id: string;
  value: number;
}

function toRecord(doc: OutboxDoc): OutboxRecord {
  return {
    seq: doc.seq,
    eventId: doc.eventId,
    payload: new Uint8Array(doc.payload.value()), // a plain copy
    createdAt: doc.createdAt,
    attempts: doc.attempts,
    nextAttemptAt: doc.nextAttemptAt,
    ...(doc.lastError === null ? {} : { lastError: doc.lastError }),
    ...(doc.shippedAt === null ? {} : { shippedAt: doc.shippedAt }),
    ...(doc.sequence === null ? {} : { sequence: doc.sequence }),
  };
}

/**
 * The outbox on MongoDB. Needs outboxMongoIndexes in the store's index list. Every filter is
 * built from checked, typed fields; nothing from a caller is spread into a query.
 */
export class MongoOutboxRepository implements OutboxRepository {
  readonly #store: MongoStore;

  constructor(store: MongoStore) {
    this.#store = store;
  }

  async add(tx: Transaction, events: readonly OutboxEvent[]): Promise<void> {
    const unique = checkOutboxEvents(events);
    return this.#store.exec(tx, (db, session) => this.#insert(db, session, unique));
  }

  /**
   * Events not tied to a state change need no multi-document transaction: the counter
   * increment and each upsert are atomic on their own, and a crash in between only leaves a
   * gap in `seq` (which orders, never counts). This also keeps concurrent event writes clear
   * of servers that mishandle concurrent transactions (jongodb loses their writes).
   */
  async addNow(events: readonly OutboxEvent[]): Promise<void> {
    const unique = checkOutboxEvents(events);
    if (unique.length === 0) return;
    await this.#store.exec(undefined, (db, session) => this.#insert(db, session, unique));
  }

  async #insert(db: Db, session: ClientSession | undefined, unique: readonly OutboxEvent[]): Promise<void> {
    if (unique.length === 0) return;
    const maxTimeMS = this.#store.maxTimeMS();
    // Reserve a block of local sequence numbers (in the caller's transaction, if any). A duplicate eventId
    // leaves a gap, which is harmless: only the order matters.
    const counter = await db
      .collection<CounterDoc>(COUNTERS)
      .findOneAndUpdate({ _id: SEQ_COUNTER }, { $inc: { value: unique.length } }, { upsert: true, returnDocument: 'after', session, maxTimeMS });
    if (!counter) throw new Error('the outbox sequence counter returned nothing');
    let seq = counter.value - unique.length;
    await db.collection<OutboxDoc>(OUTBOX).bulkWrite(
      unique.map((event) => {
        seq += 1;
        const doc: OutboxDoc = {
          eventId: event.eventId,
          seq,
          payload: new Binary(event.payload),
          createdAt: event.createdAt,
          attempts: 0,
          nextAttemptAt: event.createdAt,
          lastError: null,
          shippedAt: null,
          sequence: null,
        };
        // Upsert, not insert: a duplicate insert would abort the whole transaction on MongoDB.
        return { updateOne: { filter: { eventId: event.eventId }, update: { $setOnInsert: doc }, upsert: true } };
      }),
      { ordered: true, ...(session ? { session } : {}), maxTimeMS },
    );
  }

  async pending(limit: number, now: Date): Promise<OutboxRecord[]> {
    checkPendingArgs(limit, now);
    return this.#store.exec(undefined, async (db) => {
      const docs = await db
        .collection<OutboxDoc>(OUTBOX)
        .find({ shippedAt: null, nextAttemptAt: { $lte: now } })
        .sort({ seq: 1, _id: 1 })
        .limit(limit)
        .maxTimeMS(this.#store.maxTimeMS())
        .toArray();
      return docs.map(toRecord);
    });
  }

  async markShipped(acks: readonly OutboxAck[], at: Date): Promise<number> {
    checkAcks(acks);
    checkOutboxDate(at, 'at');
    return this.#store.exec(undefined, async (db) => {
      if (acks.length === 0) return 0;
      const result = await db.collection<OutboxDoc>(OUTBOX).bulkWrite(
        acks.map((ack) => ({
          updateOne: { filter: { eventId: ack.eventId, shippedAt: null }, update: { $set: { shippedAt: at, sequence: ack.sequence } } },
        })),
        { ordered: true, maxTimeMS: this.#store.maxTimeMS() },
      );
      return result.modifiedCount;
    });
  }

  async markFailed(eventIds: readonly string[], error: string, nextAttemptAt: Date): Promise<number> {
    const ids = checkEventIds(eventIds);
    checkOutboxDate(nextAttemptAt, 'nextAttemptAt');
    const message = clipOutboxError(error);
    return this.#store.exec(undefined, async (db) => {
      if (ids.length === 0) return 0;
      const result = await db
        .collection<OutboxDoc>(OUTBOX)
        .updateMany(
          { eventId: { $in: ids }, shippedAt: null },
          { $inc: { attempts: 1 }, $set: { lastError: message, nextAttemptAt } },
          { maxTimeMS: this.#store.maxTimeMS() },
        );
      return result.modifiedCount;
    });
  }

  async get(eventId: string): Promise<OutboxRecord | undefined> {
    checkEventId(eventId);
    return this.#store.exec(undefined, async (db) => {
      const doc = await db.collection<OutboxDoc>(OUTBOX).findOne({ eventId }, { maxTimeMS: this.#store.maxTimeMS() });
      return doc === null ? undefined : toRecord(doc);
    });
  }

  async countPending(): Promise<number> {
    return this.#store.exec(undefined, (db) =>
      db.collection<OutboxDoc>(OUTBOX).countDocuments({ shippedAt: null }, { maxTimeMS: this.#store.maxTimeMS() }),
    );
  }

  async purgeShipped(olderThan: Date): Promise<number> {
    checkOutboxDate(olderThan, 'olderThan');
    return this.#store.exec(undefined, async (db) => {
      const result = await db
        .collection<OutboxDoc>(OUTBOX)
        .deleteMany({ shippedAt: { $ne: null, $lt: olderThan } }, { maxTimeMS: this.#store.maxTimeMS() });
      return result.deletedCount;
    });
  }
}
