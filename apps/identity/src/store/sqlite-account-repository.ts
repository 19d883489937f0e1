import type { Transaction } from '@gatehouse/core';
import { insertOrAlreadyExists, type SqliteMigration, type SqliteStore } from '@gatehouse/storage';
import type { Account, AccountFilter, AccountRepository } from '../domain/accounts/account.js';

/** The accounts table: the JSON document plus the columns lookups and filters use. */
export const accountSqliteMigrations: SqliteMigration[] = [
  {
    id: 'identity-0001-accounts',
    up: (db) => {
      db.exec(`
        CREATE TABLE accounts (
          account_id TEXT PRIMARY KEY,
          issuer TEXT NOT NULL,
          subject TEXT NOT NULL,
          state TEXT NOT NULL,
          roles TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          version INTEGER NOT NULL,
          doc TEXT NOT NULL,
          UNIQUE (issuer, subject)
        );
        CREATE INDEX accounts_created ON accounts (created_at DESC, account_id DESC);
      `);
    },
  },
];

const DATES = ['createdAt', 'updatedAt', 'approvedAt', 'suspendedAt', 'lastSignInAt'] as const;

/** Accounts as JSON documents; dates revived on read. */
export function accountFromJson(json: string): Account {
  const raw = JSON.parse(json) as Record<string, unknown>;
  for (const k of DATES) if (typeof raw[k] === 'string') raw[k] = new Date(raw[k] as string);
  return raw as unknown as Account;
}

/** Accounts on SQLite. */
export class SqliteAccountRepository implements AccountRepository {
  constructor(private readonly store: SqliteStore) {}

  async create(tx: Transaction, a: Account): Promise<void> {
    await insertOrAlreadyExists(() =>
      this.store.exec(tx, (db) =>
        db
          .prepare('INSERT INTO accounts (account_id, issuer, subject, state, roles, created_at, version, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
          .run(a.accountId, a.issuer, a.subject, a.state, `,${a.roles.join(',')},`, a.createdAt.getTime(), a.version, JSON.stringify(a)),
      ),
      'an account with this Google issuer and subject already exists',
    );
  }

  byId(accountId: string, tx?: Transaction): Promise<Account | undefined> {
    return this.store.exec(tx, (db) => {
      const r = db.prepare('SELECT doc FROM accounts WHERE account_id = ?').get(accountId) as { doc: string } | undefined;
      return r ? accountFromJson(r.doc) : undefined;
    });
  }

  byIssuerSubject(issuer: string, subject: string, tx?: Transaction): Promise<Account | undefined> {
    return this.store.exec(tx, (db) => {
      const r = db.prepare('SELECT doc FROM accounts WHERE issuer = ? AND subject = ?').get(issuer, subject) as { doc: string } | undefined;
      return r ? accountFromJson(r.doc) : undefined;
    });
  }

  list(filter: AccountFilter, page: { after?: { createdAt: Date; accountId: string } | undefined; limit: number }, tx?: Transaction): Promise<Account[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.states?.length) {
      where.push(`state IN (${filter.states.map(() => '?').join(', ')})`);
      params.push(...filter.states);
    }
    if (filter.roles?.length) {
      where.push(`(${filter.roles.map(() => 'instr(roles, ?) > 0').join(' OR ')})`);
      params.push(...filter.roles.map((r) => `,${r},`));
    }
    if (filter.email !== undefined) {
      where.push("lower(json_extract(doc, '$.email')) = ?");
      params.push(String(filter.email).toLowerCase());
    }
    if (page.after) {
      where.push('(created_at < ? OR (created_at = ? AND account_id < ?))');
      params.push(page.after.createdAt.getTime(), page.after.createdAt.getTime(), page.after.accountId);
    }
    const sql = `SELECT doc FROM accounts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, account_id DESC LIMIT ?`;
    return this.store.exec(tx, (db) => (db.prepare(sql).all(...params, page.limit) as Array<{ doc: string }>).map((r) => accountFromJson(r.doc)));
  }

  update(tx: Transaction, a: Account): Promise<boolean> {
    return this.store.exec(tx, (db) => {
      const r = db
        .prepare('UPDATE accounts SET state = ?, roles = ?, version = ?, doc = ? WHERE account_id = ? AND version = ?')
        .run(a.state, `,${a.roles.join(',')},`, a.version, JSON.stringify(a), a.accountId, a.version - 1);
      return r.changes === 1;
    });
  }

  countActiveOfficers(tx?: Transaction): Promise<number> {
    return this.store.exec(
      tx,
      (db) => (db.prepare("SELECT COUNT(*) AS n FROM accounts WHERE state = 'active' AND instr(roles, ',security_officer,') > 0").get() as { n: number }).n,
    );
  }
}
