import type { Transaction } from '@gatehouse/core';
import type { SqliteMigration, SqliteStore } from '@gatehouse/storage';
import type { BootstrapTokenRepository } from '../domain/sessions/bootstrap-token.js';

/**
 * Signing keys (JSON document, public key as base64, plus the activation time the listing
 * orders by) and the one bootstrap token row. Every field of the token is a compare-and-set
 * column, so that table has no document (like account_throttle). The signing_keys table is the
 * one @gatehouse/signing-keys reads and writes (its own `signingKeySqliteMigrations` create the
 * same table for other services); this applied migration stays as it shipped.
 */
export const signingKeyBootstrapSqliteMigrations: SqliteMigration[] = [
  {
    id: 'identity-0005-signing-keys-bootstrap',
    up: (db) => {
      db.exec(`
        CREATE TABLE signing_keys (
          key_id TEXT PRIMARY KEY,
          activates_at INTEGER NOT NULL,
          doc TEXT NOT NULL
        );
        CREATE INDEX signing_keys_activation ON signing_keys (activates_at, key_id);
        CREATE TABLE bootstrap_token (
          id INTEGER PRIMARY KEY CHECK (id = 1),
          token_hash TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          expires_at INTEGER NOT NULL,
          used_at INTEGER
        );
      `);
    },
  },
];

/**
 * The bootstrap token on SQLite: one row (id = 1). consume() is a single UPDATE whose WHERE is
 * the whole condition (right hash, unused, unexpired), so exactly one caller sees a change.
 */
export class SqliteBootstrapTokenRepository implements BootstrapTokenRepository {
  constructor(private readonly store: SqliteStore) {}

  async put(tx: Transaction, tokenHash: string, createdAt: Date, expiresAt: Date): Promise<void> {
    await this.store.exec(tx, (db) =>
      db
        .prepare(
          `INSERT INTO bootstrap_token (id, token_hash, created_at, expires_at, used_at) VALUES (1, ?, ?, ?, NULL)
           ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at, expires_at = excluded.expires_at, used_at = NULL`,
        )
        .run(tokenHash, createdAt.getTime(), expiresAt.getTime()),
    );
  }

  consume(tx: Transaction, tokenHash: string, now: Date): Promise<boolean> {
    return this.store.exec(
      tx,
      (db) =>
        db.prepare('UPDATE bootstrap_token SET used_at = ? WHERE id = 1 AND token_hash = ? AND used_at IS NULL AND expires_at > ?').run(now.getTime(), tokenHash, now.getTime()).changes === 1,
    );
  }

  pending(now: Date, tx?: Transaction): Promise<boolean> {
    return this.store.exec(tx, (db) => db.prepare('SELECT 1 FROM bootstrap_token WHERE id = 1 AND used_at IS NULL AND expires_at > ?').get(now.getTime()) !== undefined);
  }
}
