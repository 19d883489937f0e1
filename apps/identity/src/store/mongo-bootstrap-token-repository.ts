import { inMongoTx } from '@gatehouse/storage';
import type { Transaction } from '@gatehouse/core';
import type { MongoStore } from '@gatehouse/storage';
import { docTurn } from './mongo-tx.js';
import type { BootstrapTokenRepository } from '../domain/sessions/bootstrap-token.js';

const BOOTSTRAP = 'bootstrap_token';
/** The bootstrap token is one document with a fixed id. */
const BOOTSTRAP_ID = 'bootstrap';

interface BootstrapDoc {
  _id: string;
  tokenHash: string;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
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

  async put(tx: Transaction, tokenHash: string, createdAt: Date, expiresAt: Date): Promise<void> {
    await docTurn(tx, this.store, BOOTSTRAP, BOOTSTRAP_ID);
    // A constant filter (no input in it), so that an upsert takes its _id from it.
    await this.col.replaceOne(
      { _id: BOOTSTRAP_ID },
      { tokenHash: String(tokenHash), createdAt: new Date(createdAt.getTime()), expiresAt: new Date(expiresAt.getTime()), usedAt: null },
      { upsert: true, ...inMongoTx(tx) },
    );
  }

  async consume(tx: Transaction, tokenHash: string, now: Date): Promise<boolean> {
    await docTurn(tx, this.store, BOOTSTRAP, BOOTSTRAP_ID);
    const at = new Date(now.getTime());
    const r = await this.col.updateOne(
      { _id: { $eq: BOOTSTRAP_ID }, tokenHash: { $eq: String(tokenHash) }, usedAt: { $eq: null }, expiresAt: { $gt: at } },
      { $set: { usedAt: at } },
      inMongoTx(tx),
    );
    return r.modifiedCount === 1;
  }

  async pending(now: Date, tx?: Transaction): Promise<boolean> {
    return (await this.col.findOne({ _id: { $eq: BOOTSTRAP_ID }, usedAt: { $eq: null }, expiresAt: { $gt: new Date(now.getTime()) } }, inMongoTx(tx))) !== null;
  }
}
