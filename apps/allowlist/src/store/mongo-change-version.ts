import { isDuplicateKey, StorageError, type MongoStore } from '@gatehouse/storage';
import type { ChangeVersion } from '../domain/model.js';

const CHANGE_VERSION = 'change_version';
/** The counter is one document with a fixed id. */
const VERSION_ID = 'allowlist';

interface VersionDoc {
  _id: string;
  v: number;
}

/** Two first bumps racing can both miss and both insert; the loser retries as an update. */
const MAX_UPSERT_ATTEMPTS = 3;

/**
 * The change version on MongoDB: one document. bump() is a single-document $inc upsert returning
 * the new value (no transaction); current() is 0 until the first bump.
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

  bump(): Promise<number> {
    const next = this.queue.then(() => this.bumpOnce());
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async bumpOnce(): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        // A constant filter (no input in it), so that an upsert takes its _id from it.
        const d = await this.col.findOneAndUpdate({ _id: VERSION_ID }, { $inc: { v: 1 } }, { upsert: true, returnDocument: 'after' });
        if (!d) throw new StorageError('the change version upsert returned no document');
        return d.v;
      } catch (err) {
        if (attempt < MAX_UPSERT_ATTEMPTS && isDuplicateKey(err)) continue;
        throw err;
      }
    }
  }
}
