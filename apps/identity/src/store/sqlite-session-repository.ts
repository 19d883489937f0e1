import type { Transaction } from '@gatehouse/core';
import { insertOrAlreadyExists, type SqliteMigration, type SqliteStore } from '@gatehouse/storage';
import type { Actor } from '../domain/accounts/account.js';
import type { SessionFilter, SessionRecord, SessionRepository, SessionStatus } from '../domain/sessions/session-record.js';

/**
 * The session records: the JSON document plus the columns the listing, the status filter, the
 * "new IP" check and the compare-and-set guards use (dates as epoch ms).
 */
export const sessionSqliteMigrations: SqliteMigration[] = [
  {
    id: 'identity-0004-sessions',
    up: (db) => {
      db.exec(`
        CREATE TABLE sessions (
          session_id TEXT PRIMARY KEY,
          account_id TEXT NOT NULL,
          pinned_ip TEXT NOT NULL,
          auth_time INTEGER NOT NULL,
          expires_at INTEGER NOT NULL,
          absolute_expires_at INTEGER NOT NULL,
          revoked_at INTEGER,
          version INTEGER NOT NULL,
          doc TEXT NOT NULL
        );
        CREATE INDEX sessions_listing ON sessions (auth_time DESC, session_id DESC);
        CREATE INDEX sessions_account_listing ON sessions (account_id, auth_time DESC, session_id DESC);
        CREATE INDEX sessions_account_ip ON sessions (account_id, pinned_ip);
      `);
    },
  },
];

const DATES = ['authTime', 'issuedAt', 'expiresAt', 'absoluteExpiresAt', 'liveExpiresAt', 'stagingExpiresAt', 'lastRefreshedAt', 'revokedAt'] as const;

/** A session record document with its dates revived. */
export function sessionFromJson(json: string): SessionRecord {
  const raw = JSON.parse(json) as Record<string, unknown>;
  for (const k of DATES) if (typeof raw[k] === 'string') raw[k] = new Date(raw[k] as string);
  return raw as unknown as SessionRecord;
}

const ms = (d: Date | null) => (d === null ? null : d.getTime());

/** The SQL condition of each status at `now` (one bound parameter where it needs the clock). */
const STATUS_SQL: Record<SessionStatus, { sql: string; usesNow: boolean }> = {
  revoked: { sql: 'revoked_at IS NOT NULL', usesNow: false },
  expired: { sql: '(revoked_at IS NULL AND expires_at <= ?)', usesNow: true },
  active: { sql: '(revoked_at IS NULL AND expires_at > ?)', usesNow: true },
};

/**
 * Session records on SQLite. Every write is one statement whose WHERE is the guard: a refresh
 * needs the previous version and no revocation, and revocations patch the document in place
 * (json_set) so no read-modify-write window exists.
 */
export class SqliteSessionRepository implements SessionRepository {
  constructor(private readonly store: SqliteStore) {}

  async create(tx: Transaction, r: SessionRecord): Promise<void> {
    await insertOrAlreadyExists(
      () =>
        this.store.exec(tx, (db) =>
          db
            .prepare(
              `INSERT INTO sessions (session_id, account_id, pinned_ip, auth_time, expires_at, absolute_expires_at, revoked_at, version, doc)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(r.sessionId, r.accountId, r.pinnedIp, r.authTime.getTime(), r.expiresAt.getTime(), r.absoluteExpiresAt.getTime(), ms(r.revokedAt), r.version, JSON.stringify(r)),
        ),
      'a session with this id already exists',
    );
  }

  get(sessionId: string, tx?: Transaction): Promise<SessionRecord | undefined> {
    return this.store.exec(tx, (db) => {
      const row = db.prepare('SELECT doc FROM sessions WHERE session_id = ?').get(sessionId) as { doc: string } | undefined;
      return row ? sessionFromJson(row.doc) : undefined;
    });
  }

  update(tx: Transaction, r: SessionRecord): Promise<boolean> {
    return this.store.exec(tx, (db) => {
      const res = db
        .prepare(
          `UPDATE sessions SET pinned_ip = ?, auth_time = ?, expires_at = ?, absolute_expires_at = ?, revoked_at = ?, version = ?, doc = ?
           WHERE session_id = ? AND version = ? AND revoked_at IS NULL`,
        )
        .run(r.pinnedIp, r.authTime.getTime(), r.expiresAt.getTime(), r.absoluteExpiresAt.getTime(), ms(r.revokedAt), r.version, JSON.stringify(r), r.sessionId, r.version - 1);
      return res.changes === 1;
    });
  }

  revoke(tx: Transaction, sessionId: string, at: Date, by: Actor | null, reason: string): Promise<boolean> {
    return this.store.exec(tx, (db) => {
      const res = db.prepare(`${REVOKE_SET} WHERE session_id = ? AND revoked_at IS NULL`).run(...revokeParams(at, by, reason), sessionId);
      return res.changes === 1;
    });
  }

  revokeAllForAccount(tx: Transaction, accountId: string, at: Date, by: Actor | null, reason: string): Promise<number> {
    return this.store.exec(
      tx,
      (db) => db.prepare(`${REVOKE_SET} WHERE account_id = ? AND revoked_at IS NULL AND absolute_expires_at > ?`).run(...revokeParams(at, by, reason), accountId, at.getTime()).changes,
    );
  }

  list(filter: SessionFilter, page: { after?: { authTime: Date; sessionId: string } | undefined; limit: number }, tx?: Transaction): Promise<SessionRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.accountId !== undefined) {
      where.push('account_id = ?');
      params.push(filter.accountId);
    }
    if (filter.statuses?.length) {
      const known = [...new Set(filter.statuses)].filter((s) => Object.hasOwn(STATUS_SQL, s)).map((s) => STATUS_SQL[s]);
      // Only unknown statuses asked for: nothing matches (never "no filter").
      if (known.length === 0) return Promise.resolve([]);
      where.push(`(${known.map((k) => k.sql).join(' OR ')})`);
      for (const k of known) if (k.usesNow) params.push(filter.now.getTime());
    }
    if (page.after) {
      where.push('(auth_time < ? OR (auth_time = ? AND session_id < ?))');
      params.push(page.after.authTime.getTime(), page.after.authTime.getTime(), page.after.sessionId);
    }
    const sql = `SELECT doc FROM sessions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY auth_time DESC, session_id DESC LIMIT ?`;
    return this.store.exec(tx, (db) => (db.prepare(sql).all(...params, page.limit) as Array<{ doc: string }>).map((row) => sessionFromJson(row.doc)));
  }

  hasUsedIp(accountId: string, ip: string, tx?: Transaction): Promise<boolean> {
    return this.store.exec(tx, (db) => db.prepare('SELECT 1 FROM sessions WHERE account_id = ? AND pinned_ip = ? LIMIT 1').get(accountId, ip) !== undefined);
  }
}

/**
 * Sets the revocation in the column and in the document, and bumps the version, in one
 * statement (SET expressions all see the row before the update, so both get version + 1).
 */
const REVOKE_SET = `UPDATE sessions SET
  revoked_at = ?,
  version = version + 1,
  doc = json_set(doc, '$.revokedAt', ?, '$.revokedBy', json(?), '$.revokeReason', ?, '$.version', version + 1)`;

function revokeParams(at: Date, by: Actor | null, reason: string): unknown[] {
  const actor = by === null ? null : { accountId: String(by.accountId), email: String(by.email) };
  return [at.getTime(), at.toISOString(), JSON.stringify(actor), String(reason)];
}
