import type { Transaction } from '@gatehouse/core';
import type { SqliteMigration, SqliteStore } from '@gatehouse/storage';
import type { RoleChange, RoleChangeRepository, RoleChangeState } from '../domain/accounts/role-change.js';

/** Role changes waiting for a second officer: the JSON document plus the columns the listing and the compare-and-set use. */
export const roleChangeSqliteMigrations: SqliteMigration[] = [
  {
    id: 'identity-0008-role-changes',
    up: (db) => {
      db.exec(`
        CREATE TABLE role_changes (
          change_id TEXT PRIMARY KEY,
          account_id TEXT NOT NULL,
          state TEXT NOT NULL,
          requested_at INTEGER NOT NULL,
          version INTEGER NOT NULL,
          doc TEXT NOT NULL
        );
        CREATE INDEX role_changes_state ON role_changes (state, requested_at DESC, change_id DESC);
      `);
    },
  },
];

const DATES = ['requestedAt', 'expiresAt', 'approvedAt'] as const;

function fromJson(json: string): RoleChange {
  const raw = JSON.parse(json) as Record<string, unknown>;
  for (const k of DATES) if (typeof raw[k] === 'string') raw[k] = new Date(raw[k] as string);
  return raw as unknown as RoleChange;
}

/** Role changes on SQLite; decide() is one UPDATE whose WHERE is the whole condition (state and version). */
export class SqliteRoleChangeRepository implements RoleChangeRepository {
  constructor(private readonly store: SqliteStore) {}

  async create(tx: Transaction, c: RoleChange): Promise<void> {
    await this.store.exec(tx, (db) =>
      db
        .prepare('INSERT INTO role_changes (change_id, account_id, state, requested_at, version, doc) VALUES (?, ?, ?, ?, ?, ?)')
        .run(c.changeId, c.accountId, c.state, c.requestedAt.getTime(), c.version, JSON.stringify(c)),
    );
  }

  byId(changeId: string, tx?: Transaction): Promise<RoleChange | undefined> {
    return this.store.exec(tx, (db) => {
      const r = db.prepare('SELECT doc FROM role_changes WHERE change_id = ?').get(String(changeId)) as { doc: string } | undefined;
      return r ? fromJson(r.doc) : undefined;
    });
  }

  list(states: readonly RoleChangeState[], limit: number, tx?: Transaction): Promise<RoleChange[]> {
    if (states.length === 0) return Promise.resolve([]);
    const sql = `SELECT doc FROM role_changes WHERE state IN (${states.map(() => '?').join(', ')}) ORDER BY requested_at DESC, change_id DESC LIMIT ?`;
    return this.store.exec(tx, (db) => (db.prepare(sql).all(...states.map(String), limit) as Array<{ doc: string }>).map((r) => fromJson(r.doc)));
  }

  decide(tx: Transaction, next: RoleChange, expected: RoleChangeState = 'pending'): Promise<boolean> {
    return this.store.exec(tx, (db) => {
      const r = db
        .prepare('UPDATE role_changes SET state = ?, version = ?, doc = ? WHERE change_id = ? AND state = ? AND version = ?')
        .run(next.state, next.version, JSON.stringify(next), next.changeId, expected, next.version - 1);
      return r.changes === 1;
    });
  }
}
