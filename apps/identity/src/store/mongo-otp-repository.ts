import type { Transaction } from '@gatehouse/core';
import { inMongoTx, insertOrAlreadyExists, isDuplicateKey, type MongoIndexSpec, type MongoStore } from '@gatehouse/storage';
import { docTurn } from './mongo-tx.js';
import { INITIAL_THROTTLE_STATE, type OtpCasGuard, type OtpCredential, type ThrottleCasStore, type ThrottleState } from '../domain/otp/index.js';
import type { OtpCredentialRepository } from './sqlite-otp-repository.js';

const CREDENTIALS = 'otp_credentials';
const THROTTLE = 'account_throttle';

interface CredentialDoc extends Omit<OtpCredential, 'credentialId'> {
  _id: string;
}
interface ThrottleDoc extends ThrottleState {
  _id: string;
}

/** Finding an account's credentials by status. */
export const otpMongoIndexes: MongoIndexSpec[] = [{ collection: CREDENTIALS, key: { accountId: 1, status: 1 }, options: { name: 'otp_credentials_account' } }];

const toCredential = ({ _id, ...rest }: CredentialDoc): OtpCredential => ({ ...rest, credentialId: _id });

/** OTP credentials on MongoDB: findOneAndUpdate with the guard as the filter (single-document CAS). */
export class MongoOtpCredentialRepository implements OtpCredentialRepository {
  constructor(private readonly store: MongoStore) {}

  private get col() {
    return this.store.db.collection<CredentialDoc>(CREDENTIALS);
  }

  async create(tx: Transaction, c: OtpCredential): Promise<void> {
    const { credentialId, ...rest } = c;
    await insertOrAlreadyExists(() =>
      this.col.insertOne({ ...rest, _id: credentialId }, inMongoTx(tx)),
      'an OTP credential with this id already exists',
    );
  }

  async get(credentialId: string, tx?: Transaction): Promise<OtpCredential | undefined> {
    const d = await this.col.findOne({ _id: { $eq: String(credentialId) } }, inMongoTx(tx));
    return d ? toCredential(d) : undefined;
  }

  async byAccount(accountId: string, status: OtpCredential['status'], tx?: Transaction): Promise<OtpCredential[]> {
    return (await this.col.find({ accountId: { $eq: String(accountId) }, status: { $eq: String(status) as OtpCredential['status'] } }, inMongoTx(tx)).toArray()).map(toCredential);
  }

  async compareAndSet(tx: Transaction, guard: OtpCasGuard, next: Partial<OtpCredential>): Promise<boolean> {
    await docTurn(tx, this.store, CREDENTIALS, guard.credentialId);
    const { credentialId: _ignored, ...set } = next;
    const r = await this.col.findOneAndUpdate(
      {
        _id: { $eq: String(guard.credentialId) },
        status: { $eq: guard.status },
        lastAcceptedStep: { $eq: guard.lastAcceptedStep },
        counter: { $eq: guard.counter },
      },
      { $set: set },
      inMongoTx(tx),
    );
    return r !== null;
  }
}

/** Throttle state on MongoDB: the stored state is the filter; the first write is a unique insert. */
export class MongoThrottleRepository implements ThrottleCasStore {
  constructor(private readonly store: MongoStore) {}

  private get col() {
    return this.store.db.collection<ThrottleDoc>(THROTTLE);
  }

  async get(accountId: string, tx?: Transaction): Promise<ThrottleState> {
    // In a unit, the account's turn comes BEFORE the read: every second-factor unit starts here
    // (reserve), so on jongodb, whose transactions read a snapshot and detect no write conflict,
    // the units of one account run one after the other and each reads the last one's commit.
    if (tx) await docTurn(tx, this.store, THROTTLE, String(accountId));
    const d = await this.col.findOne({ _id: { $eq: String(accountId) } }, inMongoTx(tx));
    return d ? { consecutiveFailures: d.consecutiveFailures, lockedAt: d.lockedAt ?? null, nextAttemptAt: d.nextAttemptAt ?? null } : { ...INITIAL_THROTTLE_STATE };
  }

  async compareAndSet(tx: Transaction, accountId: string, guard: ThrottleState, next: ThrottleState): Promise<boolean> {
    const id = String(accountId);
    await docTurn(tx, this.store, THROTTLE, id);
    const initial = guard.consecutiveFailures === 0 && guard.lockedAt === null && guard.nextAttemptAt === null;
    if (initial && !(await this.col.findOne({ _id: { $eq: id } }, inMongoTx(tx)))) {
      try {
        await this.col.insertOne({ _id: id, ...next }, inMongoTx(tx));
        return true;
      } catch (err) {
        if (isDuplicateKey(err)) return false;
        throw err;
      }
    }
    const r = await this.col.findOneAndUpdate(
      { _id: { $eq: id }, consecutiveFailures: { $eq: guard.consecutiveFailures }, lockedAt: { $eq: guard.lockedAt }, nextAttemptAt: { $eq: guard.nextAttemptAt } },
      { $set: { consecutiveFailures: next.consecutiveFailures, lockedAt: next.lockedAt, nextAttemptAt: next.nextAttemptAt } },
      inMongoTx(tx),
    );
    return r !== null;
  }

  async resetIfUnlocked(tx: Transaction, accountId: string, next: ThrottleState): Promise<boolean> {
    const id = String(accountId);
    await docTurn(tx, this.store, THROTTLE, id);
    if (!(await this.col.findOne({ _id: { $eq: id } }, inMongoTx(tx)))) return true;
    const r = await this.col.findOneAndUpdate({ _id: { $eq: id }, lockedAt: { $eq: null } }, { $set: { ...next } }, inMongoTx(tx));
    return r !== null;
  }
}
