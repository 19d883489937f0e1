import type { Transaction } from '@gatehouse/core';
import { insertOrAlreadyExists, type SqliteMigration, type SqliteStore } from '@gatehouse/storage';
import type { SignIn, SignInRepository } from '../domain/sign-in/sign-in.js';

/**
 * The sign-ins table: the JSON document (with its SMS challenge inside) plus the version the
 * compare-and-set guards and the expiry the purge scans (epoch ms).
 */
export const signInSqliteMigrations: SqliteMigration[] = [
  {
    id: 'identity-0003-sign-ins',
    up: (db) => {
      db.exec(`
        CREATE TABLE sign_ins (
          sign_in_id TEXT PRIMARY KEY,
          account_id TEXT NOT NULL,
          status TEXT NOT NULL,
          expires_at INTEGER NOT NULL,
          version INTEGER NOT NULL,
          doc TEXT NOT NULL
        );
        CREATE INDEX sign_ins_expiry ON sign_ins (expires_at);
      `);
    },
  },
];

const DATES = ['createdAt', 'expiresAt'] as const;
const SMS_DATES = ['expiresAt', 'lastSentAt', 'usedAt'] as const;

/** A sign-in document with its dates (its own and its SMS challenge's) revived. */
export function signInFromJson(json: string): SignIn {
  const raw = JSON.parse(json) as Record<string, unknown>;
  for (const k of DATES) if (typeof raw[k] === 'string') raw[k] = new Date(raw[k] as string);
  const sms = raw['sms'] as Record<string, unknown> | null | undefined;
  if (sms) for (const k of SMS_DATES) if (typeof sms[k] === 'string') sms[k] = new Date(sms[k] as string);
  return raw as unknown as SignIn;
}

/** Sign-ins on SQLite: every change is one UPDATE guarded by the version (single-use completion). */
export class SqliteSignInRepository implements SignInRepository {
  constructor(private readonly store: SqliteStore) {}

  async create(tx: Transaction, s: SignIn): Promise<void> {
    await insertOrAlreadyExists(
      () =>
        this.store.exec(tx, (db) =>
          db
            .prepare('INSERT INTO sign_ins (sign_in_id, account_id, status, expires_at, version, doc) VALUES (?, ?, ?, ?, ?, ?)')
            .run(s.signInId, s.accountId, s.status, s.expiresAt.getTime(), s.version, JSON.stringify(s)),
        ),
      'a sign-in with this id already exists',
    );
  }

  get(signInId: string, tx?: Transaction): Promise<SignIn | undefined> {
    return this.store.exec(tx, (db) => {
      const r = db.prepare('SELECT doc FROM sign_ins WHERE sign_in_id = ?').get(signInId) as { doc: string } | undefined;
      return r ? signInFromJson(r.doc) : undefined;
    });
  }

  update(tx: Transaction, s: SignIn): Promise<boolean> {
    return this.store.exec(tx, (db) => {
      const r = db
        .prepare('UPDATE sign_ins SET status = ?, expires_at = ?, version = ?, doc = ? WHERE sign_in_id = ? AND version = ?')
        .run(s.status, s.expiresAt.getTime(), s.version, JSON.stringify(s), s.signInId, s.version - 1);
      return r.changes === 1;
    });
  }

  purgeExpired(before: Date, tx?: Transaction): Promise<number> {
    return this.store.exec(tx, (db) => db.prepare('DELETE FROM sign_ins WHERE expires_at < ?').run(before.getTime()).changes);
  }
}
