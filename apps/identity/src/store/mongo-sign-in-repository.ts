import { insertOrAlreadyExists, type MongoIndexSpec, type MongoStore } from '@gatehouse/storage';
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

  async create(s: SignIn): Promise<void> {
    await insertOrAlreadyExists(() => this.col.insertOne(toDoc(s)), 'a sign-in with this id already exists');
  }

  async get(signInId: string): Promise<SignIn | undefined> {
    const d = await this.col.findOne({ _id: { $eq: String(signInId) } });
    return d ? toSignIn(d) : undefined;
  }

  async update(s: SignIn): Promise<boolean> {
    const r = await this.col.replaceOne({ _id: { $eq: String(s.signInId) }, version: { $eq: Number(s.version) - 1 } }, toDoc(s));
    return r.modifiedCount === 1;
  }

  async purgeExpired(before: Date): Promise<number> {
    const r = await this.col.deleteMany({ expiresAt: { $lt: new Date(before.getTime()) } });
    return r.deletedCount;
  }
}
