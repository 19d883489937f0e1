import type { Transaction } from '@gatehouse/core';
import { inMongoTx, insertOrAlreadyExists, type MongoIndexSpec, type MongoStore } from '@gatehouse/storage';
import { Binary } from 'mongodb';
import type { SigningKeyRecord, SigningKeyRepository } from './signing-key.js';

const SIGNING_KEYS = 'signing_keys';

interface SigningKeyDoc extends Omit<SigningKeyRecord, 'keyId' | 'publicKey'> {
  _id: string;
  publicKey: Binary;
}

/**
 * The index the key listing orders by, on the signing_keys collection: add it to the service's
 * own index list (created by name at every start; identity's has always had it).
 */
export const signingKeyMongoIndexes: readonly MongoIndexSpec[] = [
  { collection: SIGNING_KEYS, key: { activatesAt: 1, _id: 1 }, options: { name: 'signing_keys_activation' } },
];

/** BSON Binary back to a plain Uint8Array of exactly its bytes (not a Buffer, not the driver's pool). */
const bytes = (b: Binary): Uint8Array => new Uint8Array(b.value());

const toKey = ({ _id, publicKey, ...rest }: SigningKeyDoc): SigningKeyRecord => ({ ...rest, keyId: _id, publicKey: bytes(publicKey) });

/** Signing keys on MongoDB (the signing_keys collection): the public key as BSON binary. */
export class MongoSigningKeyRepository implements SigningKeyRepository {
  constructor(private readonly store: MongoStore) {}

  private get col() {
    return this.store.db.collection<SigningKeyDoc>(SIGNING_KEYS);
  }

  async create(k: SigningKeyRecord, tx?: Transaction): Promise<void> {
    const doc: SigningKeyDoc = {
      _id: k.keyId,
      publicKey: new Binary(Buffer.from(k.publicKey)),
      encryptedPrivateKey: k.encryptedPrivateKey,
      createdAt: k.createdAt,
      activatesAt: k.activatesAt,
    };
    await insertOrAlreadyExists(() => this.col.insertOne(doc, inMongoTx(tx)), 'a signing key with this id already exists');
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
