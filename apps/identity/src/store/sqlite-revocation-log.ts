import type { Transaction } from '@gatehouse/core';
import type { SqliteMigration, SqliteStore } from '@gatehouse/storage';
import type { RevocationEntry, RevocationKind, RevocationLog } from '../domain/sessions/revocation-log.js';

/** The revocation log: an AUTOINCREMENT sequence (never reused, even after pruning), dates as epoch ms. */
export const revocationSqliteMigrations: SqliteMigration[] = [
  {
    id: 'identity-0007-revocations',
    up: (db) => {
      db.exec(`
        CREATE TABLE revocations (
          sequence INTEGER PRIMARY KEY AUTOINCREMENT,
          kind TEXT NOT NULL,
          session_id TEXT,
          account_id TEXT NOT NULL,
          revoked_at INTEGER NOT NULL,
          forget_after INTEGER NOT NULL
        );
        CREATE INDEX revocations_revoked_at ON revocations (revoked_at);
        CREATE INDEX revocations_forget_after ON revocations (forget_after);
      `);
    },
  },
];

interface Row {
  sequence: number;
  kind: string;
  session_id: string | null;
  account_id: string;
  revoked_at: number;
  forget_after: number;
}

const fromRow = (r: Row): RevocationEntry => ({
  sequence: r.sequence,
  kind: r.kind as RevocationKind,
  sessionId: r.session_id,
  accountId: r.account_id,
  revokedAt: new Date(r.revoked_at),
  forgetAfter: new Date(r.forget_after),
});

/** Identity's revocation log on SQLite (one writer, so sequences commit in order). */
export class SqliteRevocationLog implements RevocationLog {
  constructor(private readonly store: SqliteStore) {}

  append(tx: Transaction, e: Omit<RevocationEntry, 'sequence'>): Promise<RevocationEntry> {
    return this.store.exec(tx, (db) => {
      const res = db
        .prepare('INSERT INTO revocations (kind, session_id, account_id, revoked_at, forget_after) VALUES (?, ?, ?, ?, ?)')
        .run(e.kind, e.sessionId, e.accountId, e.revokedAt.getTime(), e.forgetAfter.getTime());
      return { ...e, sequence: Number(res.lastInsertRowid) };
    });
  }

  after(after: number, now: Date, limit: number): Promise<RevocationEntry[]> {
    return this.store.exec(undefined, (db) =>
      (db.prepare('SELECT * FROM revocations WHERE sequence > ? AND forget_after > ? ORDER BY sequence LIMIT ?').all(after, now.getTime(), limit) as Row[]).map(fromRow),
    );
  }

  revokedSince(since: Date, limit: number): Promise<RevocationEntry[]> {
    return this.store.exec(undefined, (db) =>
      (db.prepare('SELECT * FROM revocations WHERE revoked_at >= ? ORDER BY sequence LIMIT ?').all(since.getTime(), limit) as Row[]).map(fromRow),
    );
  }

  head(): Promise<number> {
    return this.store.exec(undefined, (db) => {
      // sqlite_sequence keeps the highest sequence ever handed out, even once pruned away.
      const row = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'revocations'").get() as { seq: number } | undefined;
      return row?.seq ?? 0;
    });
  }

  prune(now: Date): Promise<number> {
    return this.store.exec(undefined, (db) => db.prepare('DELETE FROM revocations WHERE forget_after <= ?').run(now.getTime()).changes);
  }
}
