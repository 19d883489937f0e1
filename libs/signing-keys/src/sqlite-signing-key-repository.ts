import type { Transaction } from '@gatehouse/core';
import { insertOrAlreadyExists, type SqliteMigration, type SqliteStore } from '@gatehouse/storage';
import type { SigningKeyRecord, SigningKeyRepository } from './signing-key.js';

/**
 * The signing_keys table for a service that adds signing keys to its schema (append it to the
 * service's own migrations): a JSON document, plus the activation time the listing orders by.
 * Identity created the same table and index inside its own `identity-0005-signing-keys-bootstrap`
 * and must not run this one as well.
 */
export const signingKeySqliteMigrations: readonly SqliteMigration[] = [
  {
    id: 'signing-keys/0001-create',
    up: (db) => {
      db.exec(`
        CREATE TABLE signing_keys (
          key_id TEXT PRIMARY KEY,
          activates_at INTEGER NOT NULL,
          doc TEXT NOT NULL
        );
        CREATE INDEX signing_keys_activation ON signing_keys (activates_at, key_id);
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
function signingKeyFromJson(json: string): SigningKeyRecord {
  const raw = JSON.parse(json) as SigningKeyJson;
  return {
    keyId: raw.keyId,
    publicKey: new Uint8Array(Buffer.from(raw.publicKey, 'base64')),
    encryptedPrivateKey: raw.encryptedPrivateKey,
    createdAt: new Date(raw.createdAt),
    activatesAt: new Date(raw.activatesAt),
  };
}

/** Signing keys on SQLite (the signing_keys table): insert, list by activation, delete. */
export class SqliteSigningKeyRepository implements SigningKeyRepository {
  constructor(private readonly store: SqliteStore) {}

  async create(k: SigningKeyRecord, tx?: Transaction): Promise<void> {
    await insertOrAlreadyExists(
      () =>
        this.store.exec(tx, (db) =>
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
