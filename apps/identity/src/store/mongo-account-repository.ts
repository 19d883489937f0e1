import type { Transaction } from '@gatehouse/core';
import { inMongoTx, insertOrAlreadyExists, type MongoIndexSpec, type MongoStore } from '@gatehouse/storage';
import { docTurn } from './mongo-tx.js';
import type { Account, AccountFilter, AccountRepository } from '../domain/accounts/account.js';

const ACCOUNTS = 'accounts';

interface AccountDoc extends Omit<Account, 'accountId'> {
  _id: string;
}

/** Unique Google identity, and the listing order. */
export const accountMongoIndexes: MongoIndexSpec[] = [
  { collection: ACCOUNTS, key: { issuer: 1, subject: 1 }, options: { name: 'accounts_google_identity', unique: true } },
  { collection: ACCOUNTS, key: { createdAt: -1, _id: -1 }, options: { name: 'accounts_created' } },
];

function toAccount(d: AccountDoc): Account {
  const { _id, ...rest } = d;
  const a: Account = { ...rest, accountId: _id };
  for (const [k, v] of Object.entries(a)) if (v === null) delete (a as unknown as Record<string, unknown>)[k];
  return a;
}

function toDoc(a: Account): AccountDoc {
  const { accountId, ...rest } = a;
  return { ...rest, _id: accountId };
}

/** Accounts on MongoDB; updates are a single-document compare-and-set on the version. */
export class MongoAccountRepository implements AccountRepository {
  constructor(private readonly store: MongoStore) {}

  private get col() {
    return this.store.db.collection<AccountDoc>(ACCOUNTS);
  }

  async create(tx: Transaction, a: Account): Promise<void> {
    await docTurn(tx, this.store, ACCOUNTS, 'google', a.issuer, a.subject);
    await insertOrAlreadyExists(() =>
      this.col.insertOne(toDoc(a), inMongoTx(tx)),
      'an account with this Google issuer and subject already exists',
    );
  }

  async byId(accountId: string, tx?: Transaction): Promise<Account | undefined> {
    const d = await this.col.findOne({ _id: { $eq: String(accountId) } }, inMongoTx(tx));
    return d ? toAccount(d) : undefined;
  }

  async byIssuerSubject(issuer: string, subject: string, tx?: Transaction): Promise<Account | undefined> {
    const d = await this.col.findOne({ issuer: { $eq: String(issuer) }, subject: { $eq: String(subject) } }, inMongoTx(tx));
    return d ? toAccount(d) : undefined;
  }

  async list(filter: AccountFilter, page: { after?: { createdAt: Date; accountId: string } | undefined; limit: number }, tx?: Transaction): Promise<Account[]> {
    const f: Record<string, unknown> = {};
    if (filter.states?.length) f['state'] = { $in: filter.states.map(String) };
    if (filter.roles?.length) f['roles'] = { $in: filter.roles.map(String) };
    // Exact match, case-insensitive: the input is escaped, so it is text, never a pattern.
    if (filter.email !== undefined) f['email'] = { $regex: `^${String(filter.email).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, $options: 'i' };
    if (page.after) {
      f['$or'] = [{ createdAt: { $lt: page.after.createdAt } }, { createdAt: page.after.createdAt, _id: { $lt: String(page.after.accountId) } }];
    }
    const docs = await this.col.find(f, inMongoTx(tx)).sort({ createdAt: -1, _id: -1 }).limit(page.limit).toArray();
    return docs.map(toAccount);
  }

  async update(tx: Transaction, a: Account): Promise<boolean> {
    await docTurn(tx, this.store, ACCOUNTS, a.accountId);
    const r = await this.col.replaceOne({ _id: { $eq: String(a.accountId) }, version: { $eq: a.version - 1 } }, toDoc(a), inMongoTx(tx));
    return r.modifiedCount === 1;
  }

  async countActiveOfficers(tx?: Transaction): Promise<number> {
    return this.col.countDocuments({ state: 'active', roles: 'security_officer' }, inMongoTx(tx));
  }
}
