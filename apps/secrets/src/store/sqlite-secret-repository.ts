import type { Transaction } from '@gatehouse/core';
import { insertOrAlreadyExists, type SqliteMigration, type SqliteStore } from '@gatehouse/storage';
import type { Actor, Environment, SecretHead, SecretRepository, SecretVersion } from '../domain/model.js';
import { assertHeadOf, emptyPage } from './typed-values.js';

/**
 * Secrets: one row per head and one per version, each the JSON document plus the columns the
 * keys, the listing, the deletion and the rotation use (dates as epoch ms). The version's primary
 * key (environment, app, name, version) is what makes a version number taken once, whatever the
 * concurrency: not a check-then-insert.
 */
export const secretSqliteMigrations: SqliteMigration[] = [
  {
    id: 'secrets-0001-secrets',
    up: (db) => {
      db.exec(`
        CREATE TABLE secret_heads (
          environment TEXT NOT NULL,
          app TEXT NOT NULL,
          name TEXT NOT NULL,
          latest_version INTEGER NOT NULL,
          deleted_at INTEGER,
          doc TEXT NOT NULL,
          PRIMARY KEY (environment, app, name)
        );
        CREATE TABLE secret_versions (
          environment TEXT NOT NULL,
          app TEXT NOT NULL,
          name TEXT NOT NULL,
          version INTEGER NOT NULL,
          master_key_version INTEGER NOT NULL,
          destroyed_at INTEGER,
          doc TEXT NOT NULL,
          PRIMARY KEY (environment, app, name, version)
        );
        CREATE INDEX secret_versions_master_key ON secret_versions (master_key_version);
      `);
    },
  },
];

const HEAD_DATES = ['createdAt', 'updatedAt', 'deletedAt'] as const;
const VERSION_DATES = ['createdAt', 'destroyedAt'] as const;

/** A head document with its dates revived. */
export function headFromJson(json: string): SecretHead {
  const raw = JSON.parse(json) as Record<string, unknown>;
  for (const k of HEAD_DATES) if (typeof raw[k] === 'string') raw[k] = new Date(raw[k] as string);
  return raw as unknown as SecretHead;
}

/** A version document with its dates revived. */
export function versionFromJson(json: string): SecretVersion {
  const raw = JSON.parse(json) as Record<string, unknown>;
  for (const k of VERSION_DATES) if (typeof raw[k] === 'string') raw[k] = new Date(raw[k] as string);
  return raw as unknown as SecretVersion;
}

const ms = (d: Date | null) => (d === null ? null : d.getTime());

const INSERT_VERSION = `INSERT INTO secret_versions (environment, app, name, version, master_key_version, destroyed_at, doc)
  VALUES (?, ?, ?, ?, ?, ?, ?)`;

/**
 * Creates the head or moves it forward: a head is only ever replaced by one with a higher
 * version, so two Puts whose head writes land out of order still leave the newest one.
 */
const UPSERT_HEAD = `INSERT INTO secret_heads (environment, app, name, latest_version, deleted_at, doc) VALUES (?, ?, ?, ?, ?, ?)
  ON CONFLICT (environment, app, name) DO UPDATE SET
    latest_version = excluded.latest_version, deleted_at = excluded.deleted_at, doc = excluded.doc
  WHERE excluded.latest_version > secret_heads.latest_version`;

/** Marks the head deleted, in the column and in the document; the WHERE is the guard. */
const DELETE_HEAD = `UPDATE secret_heads SET
  deleted_at = ?,
  doc = json_set(doc, '$.deletedAt', ?, '$.deletedBy', json(?))
  WHERE environment = ? AND app = ? AND name = ? AND deleted_at IS NULL`;

/** Erases the ciphertext, IV, tag and wrapped data key of every version not yet destroyed. */
const ERASE_VERSIONS = `UPDATE secret_versions SET
  destroyed_at = ?,
  doc = json_set(doc, '$.ciphertext', '', '$.iv', '', '$.tag', '', '$.wrappedDataKey', '', '$.destroyedAt', ?)
  WHERE environment = ? AND app = ? AND name = ? AND destroyed_at IS NULL`;

/** Re-wraps one live version's data key iff it is still under `fromMasterVersion`. */
const REWRAP = `UPDATE secret_versions SET
  master_key_version = ?,
  doc = json_set(doc, '$.wrappedDataKey', ?, '$.masterKeyVersion', ?)
  WHERE environment = ? AND app = ? AND name = ? AND version = ? AND master_key_version = ? AND destroyed_at IS NULL`;

/**
 * Secrets on SQLite. A Put inserts the version (its primary key refuses a taken number) and moves
 * the head, a Delete marks the head and erases every version's ciphertext: each pair runs in the
 * caller's unit of work (one exec, one transaction with its audit event), so neither is ever seen half done.
 */
export class SqliteSecretRepository implements SecretRepository {
  constructor(private readonly store: SqliteStore) {}

  async putVersion(tx: Transaction, v: SecretVersion, head: SecretHead): Promise<void> {
    assertHeadOf(v, head);
    await insertOrAlreadyExists(
      () =>
        this.store.exec(tx, (db) =>
          db.transaction(() => {
            db.prepare(INSERT_VERSION).run(v.environment, v.app, v.name, v.version, v.masterKeyVersion, ms(v.destroyedAt), JSON.stringify(v));
            db.prepare(UPSERT_HEAD).run(head.environment, head.app, head.name, head.latestVersion, ms(head.deletedAt), JSON.stringify(head));
          })(),
        ),
      'this version of the secret already exists',
    );
  }

  head(environment: Environment, app: string, name: string, tx?: Transaction): Promise<SecretHead | undefined> {
    return this.store.exec(tx, (db) => {
      const row = db.prepare('SELECT doc FROM secret_heads WHERE environment = ? AND app = ? AND name = ?').get(environment, app, name) as { doc: string } | undefined;
      return row ? headFromJson(row.doc) : undefined;
    });
  }

  version(environment: Environment, app: string, name: string, version: number, tx?: Transaction): Promise<SecretVersion | undefined> {
    return this.store.exec(tx, (db) => {
      const row = db
        .prepare('SELECT doc FROM secret_versions WHERE environment = ? AND app = ? AND name = ? AND version = ?')
        .get(environment, app, name, version) as { doc: string } | undefined;
      return row ? versionFromJson(row.doc) : undefined;
    });
  }

  latestOfApp(environment: Environment, app: string, tx?: Transaction): Promise<SecretVersion[]> {
    return this.store.exec(tx, (db) =>
      (
        db
          .prepare(
            `SELECT v.doc FROM secret_heads h
             JOIN secret_versions v ON v.environment = h.environment AND v.app = h.app AND v.name = h.name AND v.version = h.latest_version
             WHERE h.environment = ? AND h.app = ? AND h.deleted_at IS NULL AND v.destroyed_at IS NULL
             ORDER BY h.name ASC`,
          )
          .all(environment, app) as Array<{ doc: string }>
      ).map((r) => versionFromJson(r.doc)),
    );
  }

  list(
    filter: { environment?: Environment; app?: string; includeDeleted: boolean },
    page: { after?: { environment: string; app: string; name: string } | undefined; limit: number },
  ): Promise<SecretHead[]> {
    if (emptyPage(page.limit)) return Promise.resolve([]);
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.environment !== undefined) {
      where.push('environment = ?');
      params.push(filter.environment);
    }
    if (filter.app !== undefined) {
      where.push('app = ?');
      params.push(filter.app);
    }
    if (filter.includeDeleted !== true) where.push('deleted_at IS NULL');
    if (page.after) {
      where.push('(environment, app, name) > (?, ?, ?)');
      params.push(page.after.environment, page.after.app, page.after.name);
    }
    const sql = `SELECT doc FROM secret_heads ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY environment ASC, app ASC, name ASC LIMIT ?`;
    return this.store.exec(undefined, (db) => (db.prepare(sql).all(...params, page.limit) as Array<{ doc: string }>).map((r) => headFromJson(r.doc)));
  }

  delete(tx: Transaction, environment: Environment, app: string, name: string, at: Date, by: Actor): Promise<boolean> {
    const actor = { accountId: String(by.accountId), email: String(by.email) };
    return this.store.exec(tx, (db) =>
      db.transaction(() => {
        const res = db.prepare(DELETE_HEAD).run(at.getTime(), at.toISOString(), JSON.stringify(actor), environment, app, name);
        if (res.changes !== 1) return false;
        db.prepare(ERASE_VERSIONS).run(at.getTime(), at.toISOString(), environment, app, name);
        return true;
      })(),
    );
  }

  wrappedUnder(notVersion: number, limit: number): Promise<SecretVersion[]> {
    if (emptyPage(limit) || !Number.isInteger(notVersion)) return Promise.resolve([]);
    return this.store.exec(undefined, (db) =>
      (
        db
          .prepare(
            `SELECT doc FROM secret_versions WHERE master_key_version <> ? AND destroyed_at IS NULL
             ORDER BY environment ASC, app ASC, name ASC, version ASC LIMIT ?`,
          )
          .all(notVersion, limit) as Array<{ doc: string }>
      ).map((r) => versionFromJson(r.doc)),
    );
  }

  rewrap(tx: Transaction, v: SecretVersion, fromMasterVersion: number, wrappedDataKey: string, toMasterVersion: number): Promise<boolean> {
    return this.store.exec(tx, (db) => {
      const res = db.prepare(REWRAP).run(toMasterVersion, String(wrappedDataKey), toMasterVersion, v.environment, v.app, v.name, v.version, fromMasterVersion);
      return res.changes === 1;
    });
  }
}
