import { insertOrAlreadyExists, type MongoIndexSpec, type MongoStore } from '@gatehouse/storage';
import { Binary } from 'mongodb';
import type { BootstrapTokenRepository, SigningKeyRecord, SigningKeyRepository } from '../domain/sessions/signing-key.js';

const SIGNING_KEYS = 'signing_keys';
const BOOTSTRAP = 'bootstrap_token';
/** The bootstrap token is one document with a fixed id. */
const BOOTSTRAP_ID = 'bootstrap';

interface SigningKeyDoc extends Omit<SigningKeyRecord, 'keyId' | 'publicKey'> {
  _id: string;
  publicKey: Binary;
}

interface BootstrapDoc {
  _id: string;
  tokenHash: string;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
}

/** The key listing order. */
export const signingKeyMongoIndexes: MongoIndexSpec[] = [{ collection: SIGNING_KEYS, key: { activatesAt: 1, _id: 1 }, options: { name: 'signing_keys_activation' } }];

/** BSON Binary back to a plain Uint8Array of exactly its bytes (not a Buffer, not the driver's pool). */
const bytes = (b: Binary): Uint8Array => new Uint8Array(b.value());

const toKey = ({ _id, publicKey, ...rest }: SigningKeyDoc): SigningKeyRecord => ({ ...rest, keyId: _id, publicKey: bytes(publicKey) });

/** Signing keys on MongoDB: the public key as BSON binary. */
export class MongoSigningKeyRepository implements SigningKeyRepository {
  constructor(private readonly store: MongoStore) {}

  private get col() {
    return this.store.db.collection<SigningKeyDoc>(SIGNING_KEYS);
  }

  async create(k: SigningKeyRecord): Promise<void> {
    const doc: SigningKeyDoc = {
      _id: k.keyId,
      publicKey: new Binary(Buffer.from(k.publicKey)),
      encryptedPrivateKey: k.encryptedPrivateKey,
      createdAt: k.createdAt,
      activatesAt: k.activatesAt,
    };
    await insertOrAlreadyExists(() => this.col.insertOne(doc), 'a signing key with this id already exists');
  }

  async list(): Promise<SigningKeyRecord[]> {
    return (await this.col.find({}).sort({ activatesAt: 1, _id: 1 }).toArray()).map(toKey);
  }

  async delete(keyIds: string[]): Promise<number> {
    if (keyIds.length === 0) return 0;
    const r = await this.col.deleteMany({ _id: { $in: keyIds.map(String) } });
    return r.deletedCount;
  }
}

/**
 * The bootstrap token on MongoDB: one document. consume() is a single-document update whose
 * filter is the whole condition (right hash, unused, unexpired), so exactly one caller wins.
 */
export class MongoBootstrapTokenRepository implements BootstrapTokenRepository {
  constructor(private readonly store: MongoStore) {}

  private get col() {
    return this.store.db.collection<BootstrapDoc>(BOOTSTRAP);
  }

  async put(tokenHash: string, createdAt: Date, expiresAt: Date): Promise<void> {
    // A constant filter (no input in it), so that an upsert takes its _id from it.
    await this.col.replaceOne(
      { _id: BOOTSTRAP_ID },
      { tokenHash: String(tokenHash), createdAt: new Date(createdAt.getTime()), expiresAt: new Date(expiresAt.getTime()), usedAt: null },
      { upsert: true },
    );
  }

  async consume(tokenHash: string, now: Date): Promise<boolean> {
    const at = new Date(now.getTime());
    const r = await this.col.updateOne(
      { _id: { $eq: BOOTSTRAP_ID }, tokenHash: { $eq: String(tokenHash) }, usedAt: { $eq: null }, expiresAt: { $gt: at } },
      { $set: { usedAt: at } },
    );
    return r.modifiedCount === 1;
  }

  async pending(now: Date): Promise<boolean> {
    return (await this.col.findOne({ _id: { $eq: BOOTSTRAP_ID }, usedAt: { $eq: null }, expiresAt: { $gt: new Date(now.getTime()) } })) !== null;
  }
}
