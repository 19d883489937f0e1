import type { Transaction } from '@gatehouse/core';
import { insertOrAlreadyExists, isDuplicateKey, type SqliteMigration, type SqliteStore } from '@gatehouse/storage';
import type {
  AccessReport,
  AccessRepository,
  ActivePage,
  AnomalyFilter,
  AnomalyRecord,
  AnomalyRepository,
  BurstRepository,
  BurstWindow,
  GrantRecord,
  GrantRepository,
  LockRecord,
  LockRepository,
  NewestPage,
} from '../domain/model.js';
import { emptyPage, reviveDates } from './documents.js';

/**
 * The impersonation tables: each record is a JSON document plus the columns its lookups, its
 * compare-and-sets and its listings use (dates as epoch ms).
 */
export const impersonationSqliteMigrations: SqliteMigration[] = [
  {
    id: 'impersonation-0001-grants-anomalies',
    up: (db) => {
      db.exec(`
        CREATE TABLE grants (
          grant_id TEXT PRIMARY KEY,
          account_id TEXT NOT NULL,
          customer_domain TEXT NOT NULL,
          target_user_id TEXT NOT NULL,
          state TEXT NOT NULL,
          started_at INTEGER NOT NULL,
          expires_at INTEGER NOT NULL,
          expiry_reported INTEGER NOT NULL,
          doc TEXT NOT NULL
        );
        CREATE INDEX grants_domain_log ON grants (customer_domain, started_at DESC, grant_id DESC);
        CREATE INDEX grants_active ON grants (state, expires_at, grant_id);
        CREATE INDEX grants_account_active ON grants (account_id, state, expires_at, grant_id);
        CREATE INDEX grants_burst ON grants (account_id, customer_domain, started_at, target_user_id);
        CREATE TABLE burst_windows (
          account_id TEXT NOT NULL,
          customer_domain TEXT NOT NULL,
          version INTEGER NOT NULL,
          doc TEXT NOT NULL,
          PRIMARY KEY (account_id, customer_domain)
        );
        CREATE TABLE anomalies (
          anomaly_id TEXT PRIMARY KEY,
          account_id TEXT NOT NULL,
          customer_domain TEXT NOT NULL,
          state TEXT NOT NULL,
          opened_at INTEGER NOT NULL,
          version INTEGER NOT NULL,
          doc TEXT NOT NULL
        );
        CREATE INDEX anomalies_listing ON anomalies (opened_at DESC, anomaly_id DESC);
        CREATE INDEX anomalies_account ON anomalies (account_id, state, opened_at DESC);
        CREATE TABLE impersonation_locks (
          account_id TEXT PRIMARY KEY,
          version INTEGER NOT NULL,
          doc TEXT NOT NULL
        );
        CREATE TABLE access_reports (
          report_id TEXT PRIMARY KEY,
          grant_id TEXT NOT NULL,
          accessed_at INTEGER NOT NULL,
          doc TEXT NOT NULL
        );
        CREATE INDEX access_reports_grant ON access_reports (grant_id, accessed_at);
      `);
    },
  },
];

/** One record by its key column (table and column are this file's constants, never input). */
function docById<T>(store: SqliteStore, tx: Transaction | undefined, table: string, column: string, id: string, of: (row: { doc: string }) => T): Promise<T | undefined> {
  return store.exec(tx, (db) => {
    const row = db.prepare(`SELECT doc FROM ${table} WHERE ${column} = ?`).get(String(id)) as { doc: string } | undefined;
    return row ? of(row) : undefined;
  });
}

const GRANT_DATES = ['startedAt', 'expiresAt', 'endedAt'];
const grantOf = (row: { doc: string }): GrantRecord => reviveDates(JSON.parse(row.doc), GRANT_DATES) as GrantRecord;

/** Grants on SQLite: transitions are single UPDATEs guarded by their WHERE. */
export class SqliteGrantRepository implements GrantRepository {
  constructor(private readonly store: SqliteStore) {}

  async create(tx: Transaction, g: GrantRecord): Promise<void> {
    await insertOrAlreadyExists(
      () =>
        this.store.exec(tx, (db) =>
          db
            .prepare(
              `INSERT INTO grants (grant_id, account_id, customer_domain, target_user_id, state, started_at, expires_at, expiry_reported, doc)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(g.grantId, g.employee.accountId, g.customerDomain, g.targetUserId, g.state, g.startedAt.getTime(), g.expiresAt.getTime(), g.expiryReported ? 1 : 0, JSON.stringify(g)),
        ),
      'a grant with this id already exists',
    );
  }

  get(grantId: string, tx?: Transaction): Promise<GrantRecord | undefined> {
    return docById(this.store, tx, 'grants', 'grant_id', grantId, grantOf);
  }

  close(tx: Transaction, grantId: string, now: Date, to: { state: 'ended' | 'revoked'; revokedBy?: { accountId: string; email: string }; revokeReason?: string }): Promise<GrantRecord | undefined> {
    return this.store.exec(tx, (db) => {
      const row = db.prepare('SELECT doc FROM grants WHERE grant_id = ?').get(String(grantId)) as { doc: string } | undefined;
      if (!row) return undefined;
      const next: GrantRecord = {
        ...grantOf(row),
        state: to.state,
        endedAt: now,
        revokedBy: to.revokedBy ? { accountId: String(to.revokedBy.accountId), email: String(to.revokedBy.email) } : null,
        revokeReason: to.revokeReason === undefined ? null : String(to.revokeReason),
      };
      const res = db
        .prepare("UPDATE grants SET state = ?, doc = ? WHERE grant_id = ? AND state = 'active' AND expires_at > ?")
        .run(to.state, JSON.stringify(next), String(grantId), now.getTime());
      return res.changes === 1 ? next : undefined;
    });
  }

  expireDue(tx: Transaction, now: Date, limit: number): Promise<GrantRecord[]> {
    if (emptyPage(limit)) return Promise.resolve([]);
    return this.store.exec(tx, (db) => {
      const rows = db.prepare("SELECT doc FROM grants WHERE state = 'active' AND expires_at <= ? ORDER BY expires_at, grant_id LIMIT ?").all(now.getTime(), limit) as Array<{ doc: string }>;
      const out: GrantRecord[] = [];
      const upd = db.prepare("UPDATE grants SET state = 'expired', doc = ? WHERE grant_id = ? AND state = 'active' AND expires_at <= ?");
      for (const row of rows) {
        const g = grantOf(row);
        const next: GrantRecord = { ...g, state: 'expired', endedAt: g.expiresAt };
        if (upd.run(JSON.stringify(next), g.grantId, now.getTime()).changes === 1) out.push(next);
      }
      return out;
    });
  }

  async markExpiryReported(tx: Transaction, grantIds: string[]): Promise<void> {
    if (grantIds.length === 0) return;
    await this.store.exec(tx, (db) => {
      const upd = db.prepare("UPDATE grants SET expiry_reported = 1, doc = json_set(doc, '$.expiryReported', json('true')) WHERE grant_id = ?");
      for (const id of grantIds) upd.run(String(id));
    });
  }

  expiryUnreported(before: Date, limit: number, tx?: Transaction): Promise<GrantRecord[]> {
    if (emptyPage(limit)) return Promise.resolve([]);
    return this.store.exec(tx, (db) =>
      (
        db.prepare("SELECT doc FROM grants WHERE state = 'expired' AND expiry_reported = 0 AND expires_at < ? ORDER BY expires_at, grant_id LIMIT ?").all(before.getTime(), limit) as Array<{
          doc: string;
        }>
      ).map(grantOf),
    );
  }

  listActive(filter: { accountId?: string; customerDomain?: string }, now: Date, page: ActivePage, tx?: Transaction): Promise<GrantRecord[]> {
    if (emptyPage(page.limit)) return Promise.resolve([]);
    const where = ["state = 'active'", 'expires_at > ?'];
    const params: unknown[] = [now.getTime()];
    if (filter.accountId !== undefined) {
      where.push('account_id = ?');
      params.push(String(filter.accountId));
    }
    if (filter.customerDomain !== undefined) {
      where.push('customer_domain = ?');
      params.push(String(filter.customerDomain));
    }
    if (page.after) {
      where.push('(expires_at > ? OR (expires_at = ? AND grant_id > ?))');
      params.push(page.after.expiresAt.getTime(), page.after.expiresAt.getTime(), String(page.after.grantId));
    }
    const sql = `SELECT doc FROM grants WHERE ${where.join(' AND ')} ORDER BY expires_at ASC, grant_id ASC LIMIT ?`;
    return this.store.exec(tx, (db) => (db.prepare(sql).all(...params, page.limit) as Array<{ doc: string }>).map(grantOf));
  }

  countActive(accountId: string, now: Date): Promise<number> {
    return this.store.exec(undefined, (db) => {
      const row = db.prepare("SELECT COUNT(*) AS n FROM grants WHERE account_id = ? AND state = 'active' AND expires_at > ?").get(String(accountId), now.getTime()) as { n: number };
      return row.n;
    });
  }

  listForDomain(customerDomain: string, range: { from?: Date; to?: Date }, page: NewestPage): Promise<GrantRecord[]> {
    if (emptyPage(page.limit)) return Promise.resolve([]);
    const where = ['customer_domain = ?'];
    const params: unknown[] = [String(customerDomain)];
    if (range.from) {
      where.push('started_at >= ?');
      params.push(range.from.getTime());
    }
    if (range.to) {
      where.push('started_at < ?');
      params.push(range.to.getTime());
    }
    if (page.after) {
      where.push('(started_at < ? OR (started_at = ? AND grant_id < ?))');
      params.push(page.after.at.getTime(), page.after.at.getTime(), String(page.after.id));
    }
    const sql = `SELECT doc FROM grants WHERE ${where.join(' AND ')} ORDER BY started_at DESC, grant_id DESC LIMIT ?`;
    return this.store.exec(undefined, (db) => (db.prepare(sql).all(...params, page.limit) as Array<{ doc: string }>).map(grantOf));
  }

  countDistinctTargets(accountId: string, customerDomain: string, since: Date): Promise<number> {
    return this.store.exec(undefined, (db) => {
      const row = db
        .prepare('SELECT COUNT(DISTINCT target_user_id) AS n FROM grants WHERE account_id = ? AND customer_domain = ? AND started_at >= ?')
        .get(String(accountId), String(customerDomain), since.getTime()) as { n: number };
      return row.n;
    });
  }
}

const burstOf = (row: { doc: string }): BurstWindow => {
  const w = JSON.parse(row.doc) as BurstWindow;
  return { ...w, entries: w.entries.map((e) => reviveDates(e, ['startedAt']) as BurstWindow['entries'][number]) };
};

/**
 * Compare-and-set on a versioned row: version 1 is an INSERT (a racing insert loses on the key),
 * later versions an UPDATE … WHERE version = previous. True if this write won.
 */
function versionedWrite(store: SqliteStore, tx: Transaction, first: boolean, insert: { sql: string; params: unknown[] }, update: { sql: string; params: unknown[] }): Promise<boolean> {
  return store.exec(tx, (db) => {
    if (!first) return db.prepare(update.sql).run(...update.params).changes === 1;
    try {
      db.prepare(insert.sql).run(...insert.params);
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  });
}

/** The burst windows on SQLite. */
export class SqliteBurstRepository implements BurstRepository {
  constructor(private readonly store: SqliteStore) {}

  get(accountId: string, customerDomain: string, tx?: Transaction): Promise<BurstWindow | undefined> {
    return this.store.exec(tx, (db) => {
      const row = db.prepare('SELECT doc FROM burst_windows WHERE account_id = ? AND customer_domain = ?').get(String(accountId), String(customerDomain)) as { doc: string } | undefined;
      return row ? burstOf(row) : undefined;
    });
  }

  put(tx: Transaction, next: BurstWindow): Promise<boolean> {
    const doc = JSON.stringify(next);
    const a = String(next.accountId);
    const d = String(next.customerDomain);
    return versionedWrite(
      this.store,
      tx,
      next.version === 1,
      { sql: 'INSERT INTO burst_windows (account_id, customer_domain, version, doc) VALUES (?, ?, ?, ?)', params: [a, d, next.version, doc] },
      { sql: 'UPDATE burst_windows SET version = ?, doc = ? WHERE account_id = ? AND customer_domain = ? AND version = ?', params: [next.version, doc, a, d, next.version - 1] },
    );
  }
}

const ANOMALY_DATES = ['openedAt', 'justifiedAt', 'resolvedAt'];
const anomalyOf = (row: { doc: string }): AnomalyRecord => reviveDates(JSON.parse(row.doc), ANOMALY_DATES) as AnomalyRecord;

/** Anomalies on SQLite. */
export class SqliteAnomalyRepository implements AnomalyRepository {
  constructor(private readonly store: SqliteStore) {}

  async create(tx: Transaction, a: AnomalyRecord): Promise<void> {
    await insertOrAlreadyExists(
      () =>
        this.store.exec(tx, (db) =>
          db
            .prepare('INSERT INTO anomalies (anomaly_id, account_id, customer_domain, state, opened_at, version, doc) VALUES (?, ?, ?, ?, ?, ?, ?)')
            .run(a.anomalyId, a.employee.accountId, a.customerDomain, a.state, a.openedAt.getTime(), a.version, JSON.stringify(a)),
        ),
      'an anomaly with this id already exists',
    );
  }

  get(anomalyId: string, tx?: Transaction): Promise<AnomalyRecord | undefined> {
    return docById(this.store, tx, 'anomalies', 'anomaly_id', anomalyId, anomalyOf);
  }

  update(tx: Transaction, a: AnomalyRecord): Promise<boolean> {
    return this.store.exec(
      tx,
      (db) =>
        db.prepare('UPDATE anomalies SET state = ?, version = ?, doc = ? WHERE anomaly_id = ? AND version = ?').run(a.state, a.version, JSON.stringify(a), String(a.anomalyId), a.version - 1).changes ===
        1,
    );
  }

  list(filter: AnomalyFilter, page: NewestPage): Promise<AnomalyRecord[]> {
    if (emptyPage(page.limit)) return Promise.resolve([]);
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.accountId !== undefined) {
      where.push('account_id = ?');
      params.push(String(filter.accountId));
    }
    if (filter.customerDomain !== undefined) {
      where.push('customer_domain = ?');
      params.push(String(filter.customerDomain));
    }
    if (filter.states?.length) {
      const states = [...new Set(filter.states.map(String))];
      where.push(`state IN (${states.map(() => '?').join(', ')})`);
      params.push(...states);
    }
    if (filter.openedFrom) {
      where.push('opened_at >= ?');
      params.push(filter.openedFrom.getTime());
    }
    if (filter.openedTo) {
      where.push('opened_at < ?');
      params.push(filter.openedTo.getTime());
    }
    if (page.after) {
      where.push('(opened_at < ? OR (opened_at = ? AND anomaly_id < ?))');
      params.push(page.after.at.getTime(), page.after.at.getTime(), String(page.after.id));
    }
    const sql = `SELECT doc FROM anomalies ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY opened_at DESC, anomaly_id DESC LIMIT ?`;
    return this.store.exec(undefined, (db) => (db.prepare(sql).all(...params, page.limit) as Array<{ doc: string }>).map(anomalyOf));
  }
}

const lockOf = (row: { doc: string }): LockRecord => reviveDates(JSON.parse(row.doc), ['lockedAt', 'unlockedAt']) as LockRecord;

/** Impersonation locks on SQLite. */
export class SqliteLockRepository implements LockRepository {
  constructor(private readonly store: SqliteStore) {}

  get(accountId: string, tx?: Transaction): Promise<LockRecord | undefined> {
    return docById(this.store, tx, 'impersonation_locks', 'account_id', accountId, lockOf);
  }

  put(tx: Transaction, l: LockRecord): Promise<boolean> {
    const doc = JSON.stringify(l);
    const a = String(l.accountId);
    return versionedWrite(
      this.store,
      tx,
      l.version === 1,
      { sql: 'INSERT INTO impersonation_locks (account_id, version, doc) VALUES (?, ?, ?)', params: [a, l.version, doc] },
      { sql: 'UPDATE impersonation_locks SET version = ?, doc = ? WHERE account_id = ? AND version = ?', params: [l.version, doc, a, l.version - 1] },
    );
  }
}

const reportOf = (row: { doc: string }): AccessReport => reviveDates(JSON.parse(row.doc), ['accessedAt', 'recordedAt']) as AccessReport;

/** Access reports on SQLite: the report id is the key, so a retried report is stored once. */
export class SqliteAccessRepository implements AccessRepository {
  constructor(private readonly store: SqliteStore) {}

  add(tx: Transaction, r: AccessReport): Promise<{ stored: AccessReport; duplicate: boolean }> {
    return this.store.exec(tx, (db) => {
      const res = db
        .prepare('INSERT INTO access_reports (report_id, grant_id, accessed_at, doc) VALUES (?, ?, ?, ?) ON CONFLICT (report_id) DO NOTHING')
        .run(String(r.reportId), String(r.grantId), r.accessedAt.getTime(), JSON.stringify(r));
      if (res.changes === 1) return { stored: r, duplicate: false };
      const row = db.prepare('SELECT doc FROM access_reports WHERE report_id = ?').get(String(r.reportId)) as { doc: string };
      return { stored: reportOf(row), duplicate: true };
    });
  }

  forGrants(grantIds: string[]): Promise<AccessReport[]> {
    if (grantIds.length === 0) return Promise.resolve([]);
    const ids = [...new Set(grantIds.map(String))];
    return this.store.exec(undefined, (db) =>
      (db.prepare(`SELECT doc FROM access_reports WHERE grant_id IN (${ids.map(() => '?').join(', ')}) ORDER BY accessed_at`).all(...ids) as Array<{ doc: string }>).map(reportOf),
    );
  }
}
