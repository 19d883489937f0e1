import type { Transaction } from '@gatehouse/core';
import { inMongoTx, inTurnUntilCommit, insertOrAlreadyExists, type MongoIndexSpec, type MongoStore } from '@gatehouse/storage';
import type { Filter, ObjectId } from 'mongodb';
import type { Actor, Environment, SecretHead, SecretRepository, SecretVersion } from '../domain/model.js';
import { actor, assertHeadOf, date, emptyPage, nullableActor, nullableDate, text } from './typed-values.js';

const HEADS = 'secret_heads';
const VERSIONS = 'secret_versions';

interface HeadDoc extends SecretHead {
  _id?: ObjectId;
}

interface VersionDoc extends SecretVersion {
  _id?: ObjectId;
}

/**
 * One head per secret and one version per (secret, number): the unique keys that make a version
 * number taken once, whatever the concurrency. Also the listing order and the rotation scan.
 */
export const secretMongoIndexes: MongoIndexSpec[] = [
  { collection: HEADS, key: { environment: 1, app: 1, name: 1 }, options: { name: 'secret_heads_key', unique: true } },
  { collection: VERSIONS, key: { environment: 1, app: 1, name: 1, version: 1 }, options: { name: 'secret_versions_key', unique: true } },
  { collection: VERSIONS, key: { masterKeyVersion: 1 }, options: { name: 'secret_versions_master_key' } },
];

/** The head document, built from typed values only (no caller object reaches the store). */
function headFields(h: SecretHead): SecretHead {
  return {
    environment: text(h.environment) as Environment,
    app: text(h.app),
    name: text(h.name),
    latestVersion: Number(h.latestVersion),
    createdAt: date(h.createdAt),
    updatedAt: date(h.updatedAt),
    updatedBy: actor(h.updatedBy),
    deletedAt: nullableDate(h.deletedAt),
    deletedBy: nullableActor(h.deletedBy),
  };
}

/** The version document, built from typed values only. */
function versionFields(v: SecretVersion): SecretVersion {
  return {
    environment: text(v.environment) as Environment,
    app: text(v.app),
    name: text(v.name),
    version: Number(v.version),
    ciphertext: text(v.ciphertext),
    iv: text(v.iv),
    tag: text(v.tag),
    wrappedDataKey: text(v.wrappedDataKey),
    masterKeyVersion: Number(v.masterKeyVersion),
    createdAt: date(v.createdAt),
    createdBy: actor(v.createdBy),
    destroyedAt: nullableDate(v.destroyedAt),
  };
}

const toHead = ({ _id, ...rest }: HeadDoc): SecretHead => rest;
const toVersion = ({ _id, ...rest }: VersionDoc): SecretVersion => rest;

/** The filter of one secret (its head, or all its versions). */
const secretKey = (environment: string, app: string, name: string) => ({
  environment: { $eq: String(environment) as Environment },
  app: { $eq: String(app) },
  name: { $eq: String(name) },
});

/**
 * Secrets on MongoDB. Writes run in the caller's unit of work (one multi-document transaction
 * with the use case's audit events). A Put inserts the version (the unique key refuses a taken
 * number), then creates the head or moves it forward. A Delete marks the head with one
 * compare-and-set, then erases the versions that head covered; a Delete that finds the head
 * already deleted repeats the erasure (kept from before transactions: harmless, and it finishes
 * a delete an older version left half done). Each write takes its secret's turn in this process
 * until the transaction ends (inTurnUntilCommit: jongodb enforces neither a compare-and-set nor a
 * unique key between concurrent transactions).
 */
export class MongoSecretRepository implements SecretRepository {
  constructor(private readonly store: MongoStore) {}

  /** This transaction's turn on one secret (its head and versions). */
  private turn(tx: Transaction, s: { environment: string; app: string; name: string }): Promise<void> {
    return inTurnUntilCommit(tx, `${this.store.db.databaseName}/secret/${text(s.environment)}/${text(s.app)}/${text(s.name)}`);
  }

  private get heads() {
    return this.store.db.collection<HeadDoc>(HEADS);
  }

  private get versions() {
    return this.store.db.collection<VersionDoc>(VERSIONS);
  }

  async putVersion(tx: Transaction, v: SecretVersion, head: SecretHead): Promise<void> {
    assertHeadOf(v, head);
    await this.turn(tx, v);
    await insertOrAlreadyExists(() => this.versions.insertOne(versionFields(v), inMongoTx(tx)), 'this version of the secret already exists');
    await this.moveHead(tx, headFields(head));
  }

  /**
   * Creates the head or moves it forward, never back: the update's filter only matches a head
   * older than this one. No upsert: inside a transaction a duplicate key aborts the whole
   * transaction, so a missing head is inserted, and a racing Put that created it first turns
   * that insert into AlreadyExistsError (the caller re-reads and retries, as for a taken version).
   */
  private async moveHead(tx: Transaction, h: SecretHead): Promise<void> {
    const key = secretKey(h.environment, h.app, h.name);
    if (!(await this.heads.findOne(key, inMongoTx(tx)))) {
      await insertOrAlreadyExists(() => this.heads.insertOne({ ...h }, inMongoTx(tx)), 'this secret was created concurrently');
      return;
    }
    const filter: Filter<HeadDoc> = { ...key, latestVersion: { $lt: h.latestVersion } };
    await this.heads.updateOne(filter, { $set: h }, inMongoTx(tx));
  }

  async head(environment: Environment, app: string, name: string, tx?: Transaction): Promise<SecretHead | undefined> {
    const d = await this.heads.findOne(secretKey(environment, app, name), inMongoTx(tx));
    return d ? toHead(d) : undefined;
  }

  async version(environment: Environment, app: string, name: string, version: number, tx?: Transaction): Promise<SecretVersion | undefined> {
    const d = await this.versions.findOne({ ...secretKey(environment, app, name), version: { $eq: Number(version) } }, inMongoTx(tx));
    return d ? toVersion(d) : undefined;
  }

  async latestOfApp(environment: Environment, app: string, tx?: Transaction): Promise<SecretVersion[]> {
    const heads = await this.heads
      .find({ environment: { $eq: String(environment) as Environment }, app: { $eq: String(app) }, deletedAt: { $eq: null } }, inMongoTx(tx))
      .sort({ name: 1 })
      .toArray();
    if (heads.length === 0) return [];
    const docs = await this.versions
      .find({
        $or: heads.map((h) => ({ ...secretKey(h.environment, h.app, h.name), version: { $eq: h.latestVersion } })),
        destroyedAt: { $eq: null },
      }, inMongoTx(tx))
      .toArray();
    // In the heads' order (the server's, as the SQLite adapter's ORDER BY name).
    const rank = new Map(heads.map((h, i) => [h.name, i]));
    return docs.map(toVersion).sort((a, b) => (rank.get(a.name) ?? 0) - (rank.get(b.name) ?? 0));
  }

  async list(
    filter: { environment?: Environment; app?: string; includeDeleted: boolean },
    page: { after?: { environment: string; app: string; name: string } | undefined; limit: number },
  ): Promise<SecretHead[]> {
    if (emptyPage(page.limit)) return [];
    const and: Filter<HeadDoc>[] = [];
    if (filter.environment !== undefined) and.push({ environment: { $eq: String(filter.environment) as Environment } });
    if (filter.app !== undefined) and.push({ app: { $eq: String(filter.app) } });
    if (filter.includeDeleted !== true) and.push({ deletedAt: { $eq: null } });
    if (page.after) {
      const e = String(page.after.environment) as Environment;
      const a = String(page.after.app);
      const n = String(page.after.name);
      and.push({
        $or: [{ environment: { $gt: e } }, { environment: { $eq: e }, app: { $gt: a } }, { environment: { $eq: e }, app: { $eq: a }, name: { $gt: n } }],
      });
    }
    const docs = await this.heads
      .find(and.length ? { $and: and } : {})
      .sort({ environment: 1, app: 1, name: 1 })
      .limit(page.limit)
      .toArray();
    return docs.map(toHead);
  }

  async delete(tx: Transaction, environment: Environment, app: string, name: string, at: Date, by: Actor): Promise<boolean> {
    const when = date(at);
    await this.turn(tx, { environment, app, name });
    const marked = await this.heads.findOneAndUpdate(
      { ...secretKey(environment, app, name), deletedAt: { $eq: null } },
      { $set: { deletedAt: when, deletedBy: actor(by) } },
      { returnDocument: 'after', ...inMongoTx(tx) },
    );
    const head = marked ?? (await this.heads.findOne(secretKey(environment, app, name), inMongoTx(tx)));
    if (head && head.deletedAt !== null) {
      // The versions this head covered; a higher one belongs to a Put that re-creates the secret.
      await this.versions.updateMany(
        { ...secretKey(head.environment, head.app, head.name), version: { $lte: head.latestVersion }, destroyedAt: { $eq: null } },
        { $set: { ciphertext: '', iv: '', tag: '', wrappedDataKey: '', destroyedAt: marked ? when : date(head.deletedAt) } },
        inMongoTx(tx),
      );
    }
    return marked !== null;
  }

  async wrappedUnder(notVersion: number, limit: number): Promise<SecretVersion[]> {
    const current = Number(notVersion);
    // A non-number would make $ne match every version; it matches none, as in SQLite.
    if (emptyPage(limit) || !Number.isInteger(current)) return [];
    const docs = await this.versions
      .find({ masterKeyVersion: { $ne: current }, destroyedAt: { $eq: null } })
      .sort({ environment: 1, app: 1, name: 1, version: 1 })
      .limit(limit)
      .toArray();
    return docs.map(toVersion);
  }

  async rewrap(tx: Transaction, v: SecretVersion, fromMasterVersion: number, wrappedDataKey: string, toMasterVersion: number): Promise<boolean> {
    await this.turn(tx, v);
    const res = await this.versions.updateOne(
      { ...secretKey(v.environment, v.app, v.name), version: { $eq: Number(v.version) }, masterKeyVersion: { $eq: Number(fromMasterVersion) }, destroyedAt: { $eq: null } },
      { $set: { wrappedDataKey: text(wrappedDataKey), masterKeyVersion: Number(toMasterVersion) } },
      inMongoTx(tx),
    );
    return res.matchedCount === 1;
  }
}
