import { AlreadyExistsError, type Transaction } from '@gatehouse/core';
import { DuplicateKeyError, isDuplicateKey, toStorageError, type SqliteDatabase, type SqliteMigration, type SqliteStore } from '@gatehouse/storage';
import type { DailyIp, DailyIpRepository } from '../domain/model.js';

/**
 * Daily IP registrations: the JSON document plus the columns the two unique keys, the listing,
 * the expiry scans and the "new IP" check use (dates as epoch ms). The unique (account, day, ip)
 * and (account, day, slot) indexes are what make the per-day cap hold under concurrent writers.
 */
export const dailyIpSqliteMigrations: SqliteMigration[] = [
  {
    id: 'allowlist-0002-daily-ips',
    up: (db) => {
      db.exec(`
        CREATE TABLE daily_ips (
          daily_ip_id TEXT PRIMARY KEY,
          account_id TEXT NOT NULL,
          ip TEXT NOT NULL,
          registered_at INTEGER NOT NULL,
          expires_at INTEGER NOT NULL,
          slot INTEGER NOT NULL,
          doc TEXT NOT NULL
        );
        CREATE UNIQUE INDEX daily_ips_account_day_ip ON daily_ips (account_id, expires_at, ip);
        CREATE UNIQUE INDEX daily_ips_account_day_slot ON daily_ips (account_id, expires_at, slot);
        CREATE INDEX daily_ips_listing ON daily_ips (registered_at DESC, daily_ip_id DESC);
        CREATE INDEX daily_ips_account_listing ON daily_ips (account_id, registered_at DESC, daily_ip_id DESC);
        CREATE INDEX daily_ips_expiry ON daily_ips (expires_at);
        CREATE INDEX daily_ips_account_ip ON daily_ips (account_id, ip);
      `);
    },
  },
];

const DATES = ['registeredAt', 'expiresAt'] as const;

/** A daily IP document with its dates revived. */
export function dailyIpFromJson(json: string): DailyIp {
  const raw = JSON.parse(json) as Record<string, unknown>;
  for (const k of DATES) if (typeof raw[k] === 'string') raw[k] = new Date(raw[k] as string);
  return raw as unknown as DailyIp;
}

/**
 * Which unique key a duplicate-key error names. SQLite says "UNIQUE constraint failed:
 * daily_ips.account_id, daily_ips.expires_at, daily_ips.ip" (the columns, not the index name).
 */
function violatedKey(err: unknown): 'ip' | 'slot' | 'id' | undefined {
  if (!isDuplicateKey(err)) return undefined;
  const dup = toStorageError(err);
  const index = dup instanceof DuplicateKeyError ? dup.index : undefined;
  if (index === undefined) return undefined;
  const columns = new Set(index.split(',').map((c) => c.trim().replace(/^daily_ips\./, '')));
  if (columns.has('ip')) return 'ip';
  if (columns.has('slot')) return 'slot';
  if (columns.size === 1 && columns.has('daily_ip_id')) return 'id';
  return undefined;
}

const ipTaken = (db: SqliteDatabase, d: DailyIp) =>
  db.prepare('SELECT 1 FROM daily_ips WHERE account_id = ? AND expires_at = ? AND ip = ?').get(d.accountId, d.expiresAt.getTime(), d.ip) !== undefined;

/** Daily IPs on SQLite. */
export class SqliteDailyIpRepository implements DailyIpRepository {
  constructor(private readonly store: SqliteStore) {}

  create(tx: Transaction, d: DailyIp): Promise<'created' | 'ip_exists' | 'slot_taken'> {
    // In the caller's transaction, so the insert and the follow-up check see the same rows.
    // A refused INSERT undoes only its own statement: the transaction stays usable.
    return this.store.exec(tx, (db) => {
      try {
        db.prepare(
          `INSERT INTO daily_ips (daily_ip_id, account_id, ip, registered_at, expires_at, slot, doc)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        ).run(d.dailyIpId, d.accountId, d.ip, d.registeredAt.getTime(), d.expiresAt.getTime(), d.slot, JSON.stringify(d));
        return 'created';
      } catch (err) {
        switch (violatedKey(err)) {
          case 'ip':
            return 'ip_exists';
          case 'slot':
            // A row can break both keys (this IP, already in this slot); SQLite names only one.
            // "Already registered" wins, or a retry loop would walk on to "cap reached".
            return ipTaken(db, d) ? 'ip_exists' : 'slot_taken';
          case 'id':
            throw new AlreadyExistsError('a daily IP registration with this id already exists');
          default:
            throw err;
        }
      }
    });
  }

  find(accountId: string, ip: string, expiresAt: Date): Promise<DailyIp | undefined> {
    return this.store.exec(undefined, (db) => {
      const row = db.prepare('SELECT doc FROM daily_ips WHERE account_id = ? AND expires_at = ? AND ip = ?').get(accountId, expiresAt.getTime(), ip) as { doc: string } | undefined;
      return row ? dailyIpFromJson(row.doc) : undefined;
    });
  }

  countForDay(accountId: string, expiresAt: Date): Promise<number> {
    return this.store.exec(undefined, (db) => (db.prepare('SELECT COUNT(*) AS n FROM daily_ips WHERE account_id = ? AND expires_at = ?').get(accountId, expiresAt.getTime()) as { n: number }).n);
  }

  listUnexpired(now: Date): Promise<DailyIp[]> {
    return this.store.exec(undefined, (db) =>
      (db.prepare('SELECT doc FROM daily_ips WHERE expires_at > ? ORDER BY expires_at ASC, daily_ip_id ASC').all(now.getTime()) as Array<{ doc: string }>).map((r) => dailyIpFromJson(r.doc)),
    );
  }

  list(filter: { accountId?: string; includeExpired: boolean; now: Date }, page: { after?: { registeredAt: Date; dailyIpId: string } | undefined; limit: number }): Promise<DailyIp[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.accountId !== undefined) {
      where.push('account_id = ?');
      params.push(filter.accountId);
    }
    if (!filter.includeExpired) {
      where.push('expires_at > ?');
      params.push(filter.now.getTime());
    }
    if (page.after) {
      where.push('(registered_at < ? OR (registered_at = ? AND daily_ip_id < ?))');
      params.push(page.after.registeredAt.getTime(), page.after.registeredAt.getTime(), page.after.dailyIpId);
    }
    const sql = `SELECT doc FROM daily_ips ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY registered_at DESC, daily_ip_id DESC LIMIT ?`;
    return this.store.exec(undefined, (db) => (db.prepare(sql).all(...params, page.limit) as Array<{ doc: string }>).map((row) => dailyIpFromJson(row.doc)));
  }

  hasUsedIp(accountId: string, ip: string): Promise<boolean> {
    return this.store.exec(undefined, (db) => db.prepare('SELECT 1 FROM daily_ips WHERE account_id = ? AND ip = ? LIMIT 1').get(accountId, ip) !== undefined);
  }

  purgeExpired(tx: Transaction, before: Date): Promise<number> {
    return this.store.exec(tx, (db) => db.prepare('DELETE FROM daily_ips WHERE expires_at < ?').run(before.getTime()).changes);
  }
}
