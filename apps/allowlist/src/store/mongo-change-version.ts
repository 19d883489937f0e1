import type { Transaction } from '@gatehouse/core';
import type { ClientSession } from 'mongodb';
import { mongoSession, StorageError, type MongoStore } from '@gatehouse/storage';
import type { ChangeVersion } from '../domain/model.js';

const CHANGE_VERSION = 'change_version';
/** The counter is one document with a fixed id. */
const VERSION_ID = 'allowlist';

interface VersionDoc {
  _id: string;
  v: number;
}

/**
 * The change version on MongoDB: one document. bump() is a $inc upsert returning the new value,
 * in the change's own transaction: two changes racing on it are a write conflict, and the store
 * retries the later unit whole, so no bump is lost and none is seen before its change commits.
 * current() is 0 until the first bump.
 */
export class MongoChangeVersion implements ChangeVersion {
  /** Bumps of one process run one after another: rare (entry changes), and some servers (jongodb) lose concurrent $inc. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: MongoStore) {}

  private get col() {
    return this.store.db.collection<VersionDoc>(CHANGE_VERSION);
  }

  async current(): Promise<number> {
    return (await this.col.findOne({ _id: { $eq: VERSION_ID } }))?.v ?? 0;
  }

  bump(tx: Transaction): Promise<number> {
    const session = mongoSession(tx);
    const next = this.queue.then(() => this.bumpOnce(session));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async bumpOnce(session: ClientSession): Promise<number> {
    // A constant filter (no input in it), so that an upsert takes its _id from it.
    const d = await this.col.findOneAndUpdate({ _id: VERSION_ID }, { $inc: { v: 1 } }, { upsert: true, returnDocument: 'after', session });
    if (!d) throw new StorageError('the change version upsert returned no document');
    return d.v;
  }
}
