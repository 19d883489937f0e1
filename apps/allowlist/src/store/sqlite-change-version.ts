import type { Transaction } from '@gatehouse/core';
import type { SqliteMigration, SqliteStore } from '@gatehouse/storage';
import type { ChangeVersion } from '../domain/model.js';

/** The change version: one row (id = 1), created by the first bump. */
export const changeVersionSqliteMigrations: SqliteMigration[] = [
  {
    id: 'allowlist-0003-change-version',
    up: (db) => {
      db.exec(`
        CREATE TABLE change_version (
          id INTEGER PRIMARY KEY CHECK (id = 1),
          v INTEGER NOT NULL
        );
      `);
    },
  },
];

/**
 * The change version on SQLite. bump() is one upsert that increments in place and returns the
 * new value, so concurrent bumps never read-modify-write; current() is 0 until the first bump.
 */
export class SqliteChangeVersion implements ChangeVersion {
  constructor(private readonly store: SqliteStore) {}

  current(): Promise<number> {
    return this.store.exec(undefined, (db) => (db.prepare('SELECT v FROM change_version WHERE id = 1').get() as { v: number } | undefined)?.v ?? 0);
  }

  bump(tx: Transaction): Promise<number> {
    return this.store.exec(
      tx,
      (db) => (db.prepare('INSERT INTO change_version (id, v) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET v = v + 1 RETURNING v').get() as { v: number }).v,
    );
  }
}
