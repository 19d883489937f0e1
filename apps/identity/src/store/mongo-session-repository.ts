import type { Transaction } from '@gatehouse/core';
import { inMongoTx, insertOrAlreadyExists, type MongoIndexSpec, type MongoStore } from '@gatehouse/storage';
import { docTurn } from './mongo-tx.js';
import type { Filter } from 'mongodb';
import type { Actor } from '../domain/accounts/account.js';
import type { SessionFilter, SessionRecord, SessionRepository, SessionStatus } from '../domain/sessions/session-record.js';

const SESSIONS = 'sessions';

interface SessionDoc extends Omit<SessionRecord, 'sessionId'> {
  _id: string;
}

/** The listing order (all sessions, and one account's), and the "new IP" check. */
export const sessionMongoIndexes: MongoIndexSpec[] = [
  { collection: SESSIONS, key: { authTime: -1, _id: -1 }, options: { name: 'sessions_listing' } },
  { collection: SESSIONS, key: { accountId: 1, authTime: -1, _id: -1 }, options: { name: 'sessions_account_listing' } },
  { collection: SESSIONS, key: { accountId: 1, pinnedIp: 1 }, options: { name: 'sessions_account_ip' } },
];

const toRecord = ({ _id, ...rest }: SessionDoc): SessionRecord => ({ ...rest, sessionId: _id });

function toDoc(r: SessionRecord): SessionDoc {
  const { sessionId, ...rest } = r;
  return { ...rest, _id: sessionId };
}

/** The filter of each status at `now`: revoked wins over expired, as in sessionStatus(). */
function statusFilter(status: SessionStatus, now: Date): Filter<SessionDoc> {
  switch (status) {
    case 'revoked':
      return { revokedAt: { $ne: null } };
    case 'expired':
      return { revokedAt: { $eq: null }, expiresAt: { $lte: now } };
    case 'active':
      return { revokedAt: { $eq: null }, expiresAt: { $gt: now } };
  }
}

/** What a revocation writes, built from typed values only (no caller object reaches the query). */
function revocation(at: Date, by: Actor | null, reason: string) {
  return {
    $set: {
      revokedAt: new Date(at.getTime()),
      revokedBy: by === null ? null : { accountId: String(by.accountId), email: String(by.email) },
      revokeReason: String(reason),
    },
    $inc: { version: 1 },
  };
}

/**
 * Session records on MongoDB. Each write is a single-document compare-and-set (refresh: version
 * and "not revoked"; revoke: "not revoked"), so a refresh racing a revocation never resurrects
 * the session; revokeAllForAccount applies that same per-document guard to each of the account's.
 */
export class MongoSessionRepository implements SessionRepository {
  constructor(private readonly store: MongoStore) {}

  private get col() {
    return this.store.db.collection<SessionDoc>(SESSIONS);
  }

  async create(tx: Transaction, r: SessionRecord): Promise<void> {
    await insertOrAlreadyExists(() => this.col.insertOne(toDoc(r), inMongoTx(tx)), 'a session with this id already exists');
  }

  async get(sessionId: string, tx?: Transaction): Promise<SessionRecord | undefined> {
    const d = await this.col.findOne({ _id: { $eq: String(sessionId) } }, inMongoTx(tx));
    return d ? toRecord(d) : undefined;
  }

  async update(tx: Transaction, r: SessionRecord): Promise<boolean> {
    await docTurn(tx, this.store, SESSIONS, r.sessionId);
    const res = await this.col.replaceOne({ _id: { $eq: String(r.sessionId) }, version: { $eq: Number(r.version) - 1 }, revokedAt: { $eq: null } }, toDoc(r), inMongoTx(tx));
    return res.modifiedCount === 1;
  }

  async revoke(tx: Transaction, sessionId: string, at: Date, by: Actor | null, reason: string): Promise<boolean> {
    await docTurn(tx, this.store, SESSIONS, sessionId);
    const res = await this.col.updateOne({ _id: { $eq: String(sessionId) }, revokedAt: { $eq: null } }, revocation(at, by, reason), inMongoTx(tx));
    return res.modifiedCount === 1;
  }

  async revokeAllForAccount(tx: Transaction, accountId: string, at: Date, by: Actor | null, reason: string): Promise<number> {
    // Each session's turn, in id order (never two units waiting on each other).
    const ids = (await this.col.find({ accountId: { $eq: String(accountId) }, revokedAt: { $eq: null } }, { ...inMongoTx(tx), projection: { _id: 1 } }).toArray()).map((d) => d._id).sort();
    for (const id of ids) await docTurn(tx, this.store, SESSIONS, id);
    const res = await this.col.updateMany(
      { accountId: { $eq: String(accountId) }, revokedAt: { $eq: null }, absoluteExpiresAt: { $gt: new Date(at.getTime()) } },
      revocation(at, by, reason),
      inMongoTx(tx),
    );
    return res.modifiedCount;
  }

  async list(filter: SessionFilter, page: { after?: { authTime: Date; sessionId: string } | undefined; limit: number }, tx?: Transaction): Promise<SessionRecord[]> {
    const and: Filter<SessionDoc>[] = [];
    if (filter.accountId !== undefined) and.push({ accountId: { $eq: String(filter.accountId) } });
    if (filter.statuses?.length) {
      const now = new Date(filter.now.getTime());
      const known = [...new Set(filter.statuses)].filter((s) => s === 'active' || s === 'expired' || s === 'revoked');
      // Only unknown statuses asked for: nothing matches (never "no filter").
      if (known.length === 0) return [];
      and.push({ $or: known.map((s) => statusFilter(s, now)) });
    }
    if (page.after) {
      const t = new Date(page.after.authTime.getTime());
      and.push({ $or: [{ authTime: { $lt: t } }, { authTime: { $eq: t }, _id: { $lt: String(page.after.sessionId) } }] });
    }
    const docs = await this.col
      .find(and.length ? { $and: and } : {}, inMongoTx(tx))
      .sort({ authTime: -1, _id: -1 })
      .limit(page.limit)
      .toArray();
    return docs.map(toRecord);
  }

  async hasUsedIp(accountId: string, ip: string, tx?: Transaction): Promise<boolean> {
    return (await this.col.findOne({ accountId: { $eq: String(accountId) }, pinnedIp: { $eq: String(ip) } }, inMongoTx(tx))) !== null;
  }
}
