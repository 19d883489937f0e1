import type { Transaction } from '@gatehouse/core';
import { inMongoTx, insertOrAlreadyExists, type MongoIndexSpec, type MongoStore } from '@gatehouse/storage';
import { docTurn } from './mongo-tx.js';
import type { SignIn, SignInRepository } from '../domain/sign-in/sign-in.js';

const SIGN_INS = 'sign_ins';

interface SignInDoc extends Omit<SignIn, 'signInId'> {
  _id: string;
}

/** The purge scans by expiry; everything else is by _id. */
export const signInMongoIndexes: MongoIndexSpec[] = [{ collection: SIGN_INS, key: { expiresAt: 1 }, options: { name: 'sign_ins_expiry' } }];

const toSignIn = ({ _id, ...rest }: SignInDoc): SignIn => ({ ...rest, signInId: _id });

function toDoc(s: SignIn): SignInDoc {
  const { signInId, ...rest } = s;
  return { ...rest, _id: signInId };
}

/** Sign-ins on MongoDB: updates are a single-document replace guarded by the version. */
export class MongoSignInRepository implements SignInRepository {
  constructor(private readonly store: MongoStore) {}

  private get col() {
    return this.store.db.collection<SignInDoc>(SIGN_INS);
  }

  async create(tx: Transaction, s: SignIn): Promise<void> {
    await insertOrAlreadyExists(() => this.col.insertOne(toDoc(s), inMongoTx(tx)), 'a sign-in with this id already exists');
  }

  async get(signInId: string, tx?: Transaction): Promise<SignIn | undefined> {
    const d = await this.col.findOne({ _id: { $eq: String(signInId) } }, inMongoTx(tx));
    return d ? toSignIn(d) : undefined;
  }

  async update(tx: Transaction, s: SignIn): Promise<boolean> {
    await docTurn(tx, this.store, SIGN_INS, s.signInId);
    const r = await this.col.replaceOne({ _id: { $eq: String(s.signInId) }, version: { $eq: Number(s.version) - 1 } }, toDoc(s), inMongoTx(tx));
    return r.modifiedCount === 1;
  }

  async purgeExpired(before: Date, tx?: Transaction): Promise<number> {
    const r = await this.col.deleteMany({ expiresAt: { $lt: new Date(before.getTime()) } }, inMongoTx(tx));
    return r.deletedCount;
  }
}
