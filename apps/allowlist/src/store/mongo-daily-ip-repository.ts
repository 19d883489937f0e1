import { AlreadyExistsError, type Transaction } from '@gatehouse/core';
import { DuplicateKeyError, isDuplicateKey, toStorageError, type MongoIndexSpec, type MongoStore } from '@gatehouse/storage';
import type { Filter } from 'mongodb';
import type { DailyIp, DailyIpRepository } from '../domain/model.js';

const DAILY_IPS = 'daily_ips';
const IP_INDEX = 'daily_ips_account_day_ip';
const SLOT_INDEX = 'daily_ips_account_day_slot';

interface DailyIpDoc extends Omit<DailyIp, 'dailyIpId'> {
  _id: string;
}

/**
 * The two unique keys that make the per-day cap hold (account+day+ip, account+day+slot), the
 * listing order (all, and one account's), the expiry scans and the "new IP" check. No TTL index:
 * purgeExpired is the housekeeping, and Check decides on expiresAt itself.
 */
export const dailyIpMongoIndexes: MongoIndexSpec[] = [
  { collection: DAILY_IPS, key: { accountId: 1, expiresAt: 1, ip: 1 }, options: { name: IP_INDEX, unique: true } },
  { collection: DAILY_IPS, key: { accountId: 1, expiresAt: 1, slot: 1 }, options: { name: SLOT_INDEX, unique: true } },
  { collection: DAILY_IPS, key: { registeredAt: -1, _id: -1 }, options: { name: 'daily_ips_listing' } },
  { collection: DAILY_IPS, key: { accountId: 1, registeredAt: -1, _id: -1 }, options: { name: 'daily_ips_account_listing' } },
  { collection: DAILY_IPS, key: { expiresAt: 1 }, options: { name: 'daily_ips_expiry' } },
  { collection: DAILY_IPS, key: { accountId: 1, ip: 1 }, options: { name: 'daily_ips_account_ip' } },
];

const toDailyIp = ({ _id, ...rest }: DailyIpDoc): DailyIp => ({ ...rest, dailyIpId: _id });

function toDoc(d: DailyIp): DailyIpDoc {
  const { dailyIpId, ...rest } = d;
  return { ...rest, _id: dailyIpId };
}

/**
 * Which unique key a duplicate-key error names: MongoDB's `keyPattern` when the server sends it,
 * else the index name from the message ("… index: daily_ips_account_day_ip dup key: …"), which is
 * all some servers (jongodb) give.
 */
export function violatedDailyIpKey(err: unknown): 'ip' | 'slot' | 'id' | undefined {
  if (!isDuplicateKey(err)) return undefined;
  const dup = toStorageError(err);
  const raw = dup instanceof DuplicateKeyError && dup.cause !== undefined ? dup.cause : err;
  const keyPattern = (raw as { keyPattern?: unknown }).keyPattern;
  if (typeof keyPattern === 'object' && keyPattern !== null) {
    const keys = Object.keys(keyPattern);
    if (keys.includes('ip')) return 'ip';
    if (keys.includes('slot')) return 'slot';
    if (keys.length === 1 && keys[0] === '_id') return 'id';
  }
  switch (dup instanceof DuplicateKeyError ? dup.index : undefined) {
    case IP_INDEX:
      return 'ip';
    case SLOT_INDEX:
      return 'slot';
    case '_id_':
      return 'id';
    default:
      return undefined;
  }
}

/**
 * Daily IPs on MongoDB. A registration is one insert in the use case's transaction: the unique
 * indexes decide, and the error says which key was taken.
 */
export class MongoDailyIpRepository implements DailyIpRepository {
  constructor(private readonly store: MongoStore) {}

  private get col() {
    return this.store.db.collection<DailyIpDoc>(DAILY_IPS);
  }

  create(tx: Transaction, d: DailyIp): Promise<'created' | 'ip_exists' | 'slot_taken'> {
    return this.store.exec(tx, async (db, session) => {
      try {
        await db.collection<DailyIpDoc>(DAILY_IPS).insertOne(toDoc(d), { session });
        return 'created';
      } catch (err) {
        switch (violatedDailyIpKey(err)) {
          case 'ip':
            return 'ip_exists';
          case 'slot':
            // A document can break both keys (this IP, already in this slot); the server names one.
            // "Already registered" wins, or a retry loop would walk on to "cap reached". The failed
            // insert aborted the transaction, so this reads committed data outside it (a key held
            // by an uncommitted transaction is a write conflict, retried, never a duplicate key).
            return (await this.find(d.accountId, d.ip, d.expiresAt)) ? 'ip_exists' : 'slot_taken';
          case 'id':
            throw new AlreadyExistsError('a daily IP registration with this id already exists');
          default:
            throw err;
        }
      }
    });
  }

  async find(accountId: string, ip: string, expiresAt: Date): Promise<DailyIp | undefined> {
    const d = await this.col.findOne({ accountId: { $eq: String(accountId) }, expiresAt: { $eq: new Date(expiresAt.getTime()) }, ip: { $eq: String(ip) } });
    return d ? toDailyIp(d) : undefined;
  }

  async countForDay(accountId: string, expiresAt: Date): Promise<number> {
    return this.col.countDocuments({ accountId: { $eq: String(accountId) }, expiresAt: { $eq: new Date(expiresAt.getTime()) } });
  }

  async listUnexpired(now: Date): Promise<DailyIp[]> {
    return (await this.col.find({ expiresAt: { $gt: new Date(now.getTime()) } }).sort({ expiresAt: 1, _id: 1 }).toArray()).map(toDailyIp);
  }

  async list(filter: { accountId?: string; includeExpired: boolean; now: Date }, page: { after?: { registeredAt: Date; dailyIpId: string } | undefined; limit: number }): Promise<DailyIp[]> {
    const and: Filter<DailyIpDoc>[] = [];
    if (filter.accountId !== undefined) and.push({ accountId: { $eq: String(filter.accountId) } });
    if (!filter.includeExpired) and.push({ expiresAt: { $gt: new Date(filter.now.getTime()) } });
    if (page.after) {
      const t = new Date(page.after.registeredAt.getTime());
      and.push({ $or: [{ registeredAt: { $lt: t } }, { registeredAt: { $eq: t }, _id: { $lt: String(page.after.dailyIpId) } }] });
    }
    const docs = await this.col
      .find(and.length ? { $and: and } : {})
      .sort({ registeredAt: -1, _id: -1 })
      .limit(page.limit)
      .toArray();
    return docs.map(toDailyIp);
  }

  async hasUsedIp(accountId: string, ip: string): Promise<boolean> {
    return (await this.col.findOne({ accountId: { $eq: String(accountId) }, ip: { $eq: String(ip) } })) !== null;
  }

  async purgeExpired(tx: Transaction, before: Date): Promise<number> {
    return this.store.exec(tx, async (db, session) => (await db.collection<DailyIpDoc>(DAILY_IPS).deleteMany({ expiresAt: { $lt: new Date(before.getTime()) } }, { session })).deletedCount);
  }
}
