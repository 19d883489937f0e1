import { insertOrAlreadyExists, type SqliteMigration, type SqliteStore } from '@gatehouse/storage';
import type { BootstrapTokenRepository, SigningKeyRecord, SigningKeyRepository } from '../domain/sessions/signing-key.js';

/**
 * Signing keys (JSON document, public key as base64, plus the activation time the listing
 * orders by) and the one bootstrap token row. Every field of the token is a compare-and-set
 * column, so that table has no document (like account_throttle).
 */
export const signingKeySqliteMigrations: SqliteMigration[] = [
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

/** The stored form: JSON cannot carry a Uint8Array, so the public key is base64. */
interface SigningKeyJson extends Omit<SigningKeyRecord, 'publicKey' | 'createdAt' | 'activatesAt'> {
  publicKey: string;
  createdAt: string;
  activatesAt: string;
}

function signingKeyToJson(k: SigningKeyRecord): string {
  const stored: SigningKeyJson = {
    keyId: k.keyId,
    publicKey: Buffer.from(k.publicKey).toString('base64'),
    encryptedPrivateKey: k.encryptedPrivateKey,
    createdAt: k.createdAt.toISOString(),
    activatesAt: k.activatesAt.toISOString(),
  };
  return JSON.stringify(stored);
}

/** A key document with its dates revived and its public key back as a plain Uint8Array. */
export function signingKeyFromJson(json: string): SigningKeyRecord {
  const raw = JSON.parse(json) as SigningKeyJson;
  return {
    keyId: raw.keyId,
    publicKey: new Uint8Array(Buffer.from(raw.publicKey, 'base64')),
    encryptedPrivateKey: raw.encryptedPrivateKey,
    createdAt: new Date(raw.createdAt),
    activatesAt: new Date(raw.activatesAt),
  };
}

/** Signing keys on SQLite: insert, list by activation, delete. */
export class SqliteSigningKeyRepository implements SigningKeyRepository {
  constructor(private readonly store: SqliteStore) {}

  async create(k: SigningKeyRecord): Promise<void> {
    await insertOrAlreadyExists(
      () =>
        this.store.exec(undefined, (db) =>
          db.prepare('INSERT INTO signing_keys (key_id, activates_at, doc) VALUES (?, ?, ?)').run(k.keyId, k.activatesAt.getTime(), signingKeyToJson(k)),
        ),
      'a signing key with this id already exists',
    );
  }

  list(): Promise<SigningKeyRecord[]> {
    return this.store.exec(undefined, (db) =>
      (db.prepare('SELECT doc FROM signing_keys ORDER BY activates_at ASC, key_id ASC').all() as Array<{ doc: string }>).map((r) => signingKeyFromJson(r.doc)),
    );
  }

  delete(keyIds: string[]): Promise<number> {
    if (keyIds.length === 0) return Promise.resolve(0);
    return this.store.exec(undefined, (db) => db.prepare(`DELETE FROM signing_keys WHERE key_id IN (${keyIds.map(() => '?').join(', ')})`).run(...keyIds).changes);
  }
}

/**
 * The bootstrap token on SQLite: one row (id = 1). consume() is a single UPDATE whose WHERE is
 * the whole condition (right hash, unused, unexpired), so exactly one caller sees a change.
 */
export class SqliteBootstrapTokenRepository implements BootstrapTokenRepository {
  constructor(private readonly store: SqliteStore) {}

  async put(tokenHash: string, createdAt: Date, expiresAt: Date): Promise<void> {
    await this.store.exec(undefined, (db) =>
      db
        .prepare(
          `INSERT INTO bootstrap_token (id, token_hash, created_at, expires_at, used_at) VALUES (1, ?, ?, ?, NULL)
           ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at, expires_at = excluded.expires_at, used_at = NULL`,
        )
        .run(tokenHash, createdAt.getTime(), expiresAt.getTime()),
    );
  }

  consume(tokenHash: string, now: Date): Promise<boolean> {
    return this.store.exec(
      undefined,
      (db) =>
        db.prepare('UPDATE bootstrap_token SET used_at = ? WHERE id = 1 AND token_hash = ? AND used_at IS NULL AND expires_at > ?').run(now.getTime(), tokenHash, now.getTime()).changes === 1,
    );
  }

  pending(now: Date): Promise<boolean> {
    return this.store.exec(undefined, (db) => db.prepare('SELECT 1 FROM bootstrap_token WHERE id = 1 AND used_at IS NULL AND expires_at > ?').get(now.getTime()) !== undefined);
  }
}
