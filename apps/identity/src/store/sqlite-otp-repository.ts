import type { Transaction } from '@gatehouse/core';
import { insertOrAlreadyExists, type SqliteMigration, type SqliteStore } from '@gatehouse/storage';
import { INITIAL_THROTTLE_STATE, type OtpCasGuard, type OtpCredential, type OtpCredentialRepository, type ThrottleCasStore, type ThrottleState } from '../domain/otp/index.js';

/** OTP credentials (the compare-and-set columns are real columns) and per-account throttle state. */
export const otpSqliteMigrations: SqliteMigration[] = [
  {
    id: 'identity-0002-otp-throttle',
    up: (db) => {
      db.exec(`
        CREATE TABLE otp_credentials (
          credential_id TEXT PRIMARY KEY,
          account_id TEXT NOT NULL,
          status TEXT NOT NULL,
          last_accepted_step INTEGER NOT NULL,
          counter INTEGER NOT NULL,
          doc TEXT NOT NULL
        );
        CREATE INDEX otp_credentials_account ON otp_credentials (account_id, status);
        CREATE TABLE account_throttle (
          account_id TEXT PRIMARY KEY,
          consecutive_failures INTEGER NOT NULL,
          locked_at INTEGER,
          next_attempt_at INTEGER
        );
      `);
    },
  },
];

const DATE_FIELDS = ['createdAt', 'confirmBy', 'activatedAt', 'lastUsedAt', 'retiredAt'] as const;

/** A credential document with its dates revived. */
export function credentialFromJson(json: string): OtpCredential {
  const raw = JSON.parse(json) as Record<string, unknown>;
  for (const k of DATE_FIELDS) if (typeof raw[k] === 'string') raw[k] = new Date(raw[k] as string);
  return raw as unknown as OtpCredential;
}

export type { OtpCredentialRepository };

/** OTP credentials on SQLite: compare-and-set on status, last accepted step and counter. */
export class SqliteOtpCredentialRepository implements OtpCredentialRepository {
  constructor(private readonly store: SqliteStore) {}

  async create(tx: Transaction, c: OtpCredential): Promise<void> {
    await insertOrAlreadyExists(() =>
      this.store.exec(tx, (db) =>
        db
          .prepare('INSERT INTO otp_credentials (credential_id, account_id, status, last_accepted_step, counter, doc) VALUES (?, ?, ?, ?, ?, ?)')
          .run(c.credentialId, c.accountId, c.status, c.lastAcceptedStep, c.counter, JSON.stringify(c)),
      ),
      'an OTP credential with this id already exists',
    );
  }

  get(credentialId: string, tx?: Transaction): Promise<OtpCredential | undefined> {
    return this.store.exec(tx, (db) => {
      const r = db.prepare('SELECT doc FROM otp_credentials WHERE credential_id = ?').get(credentialId) as { doc: string } | undefined;
      return r ? credentialFromJson(r.doc) : undefined;
    });
  }

  byAccount(accountId: string, status: OtpCredential['status'], tx?: Transaction): Promise<OtpCredential[]> {
    return this.store.exec(tx, (db) =>
      (db.prepare('SELECT doc FROM otp_credentials WHERE account_id = ? AND status = ?').all(accountId, status) as Array<{ doc: string }>).map((r) => credentialFromJson(r.doc)),
    );
  }

  compareAndSet(tx: Transaction, guard: OtpCasGuard, next: Partial<OtpCredential>): Promise<boolean> {
    return this.store.exec(tx, (db) => {
      const row = db
        .prepare('SELECT doc FROM otp_credentials WHERE credential_id = ? AND status = ? AND last_accepted_step = ? AND counter = ?')
        .get(guard.credentialId, guard.status, guard.lastAcceptedStep, guard.counter) as { doc: string } | undefined;
      if (!row) return false;
      const updated = { ...credentialFromJson(row.doc), ...next };
      // The same guard again in the UPDATE: the unit holds the store's lock, and the WHERE makes
      // the write itself the compare-and-set.
      const r = db
        .prepare('UPDATE otp_credentials SET status = ?, last_accepted_step = ?, counter = ?, doc = ? WHERE credential_id = ? AND status = ? AND last_accepted_step = ? AND counter = ?')
        .run(updated.status, updated.lastAcceptedStep, updated.counter, JSON.stringify(updated), guard.credentialId, guard.status, guard.lastAcceptedStep, guard.counter);
      return r.changes === 1;
    });
  }
}

interface ThrottleRow {
  consecutive_failures: number;
  locked_at: number | null;
  next_attempt_at: number | null;
}

const toState = (r: ThrottleRow): ThrottleState => ({
  consecutiveFailures: r.consecutive_failures,
  lockedAt: r.locked_at === null ? null : new Date(r.locked_at),
  nextAttemptAt: r.next_attempt_at === null ? null : new Date(r.next_attempt_at),
});
const ms = (d: Date | null) => (d === null ? null : d.getTime());

/** Throttle state on SQLite: the whole state is the compare-and-set guard. */
export class SqliteThrottleRepository implements ThrottleCasStore {
  constructor(private readonly store: SqliteStore) {}

  get(accountId: string, tx?: Transaction): Promise<ThrottleState> {
    return this.store.exec(tx, (db) => {
      const r = db.prepare('SELECT consecutive_failures, locked_at, next_attempt_at FROM account_throttle WHERE account_id = ?').get(accountId) as ThrottleRow | undefined;
      return r ? toState(r) : { ...INITIAL_THROTTLE_STATE };
    });
  }

  compareAndSet(tx: Transaction, accountId: string, guard: ThrottleState, next: ThrottleState): Promise<boolean> {
    return this.store.exec(tx, (db) => {
      const exists = db.prepare('SELECT 1 FROM account_throttle WHERE account_id = ?').get(accountId);
      if (!exists) {
        if (guard.consecutiveFailures !== 0 || guard.lockedAt !== null || guard.nextAttemptAt !== null) return false;
        const r = db
          .prepare('INSERT OR IGNORE INTO account_throttle (account_id, consecutive_failures, locked_at, next_attempt_at) VALUES (?, ?, ?, ?)')
          .run(accountId, next.consecutiveFailures, ms(next.lockedAt), ms(next.nextAttemptAt));
        return r.changes === 1;
      }
      const r = db
        .prepare(
          `UPDATE account_throttle SET consecutive_failures = ?, locked_at = ?, next_attempt_at = ?
           WHERE account_id = ? AND consecutive_failures = ? AND locked_at IS ? AND next_attempt_at IS ?`,
        )
        .run(next.consecutiveFailures, ms(next.lockedAt), ms(next.nextAttemptAt), accountId, guard.consecutiveFailures, ms(guard.lockedAt), ms(guard.nextAttemptAt));
      return r.changes === 1;
    });
  }

  resetIfUnlocked(tx: Transaction, accountId: string, next: ThrottleState): Promise<boolean> {
    return this.store.exec(tx, (db) => {
      const exists = db.prepare('SELECT locked_at FROM account_throttle WHERE account_id = ?').get(accountId) as { locked_at: number | null } | undefined;
      if (!exists) return true;
      const r = db
        .prepare('UPDATE account_throttle SET consecutive_failures = ?, locked_at = ?, next_attempt_at = ? WHERE account_id = ? AND locked_at IS NULL')
        .run(next.consecutiveFailures, ms(next.lockedAt), ms(next.nextAttemptAt), accountId);
      return r.changes === 1;
    });
  }
}
