import type { Transaction } from '@gatehouse/core';
import { insertOrAlreadyExists, type SqliteMigration, type SqliteStore } from '@gatehouse/storage';
import type { Actor, AllowlistEntry, EntryRepository } from '../domain/model.js';

/**
 * The enumerated entries: the JSON document plus the columns the uniqueness, the compare-and-set
 * removal and the active listing use (dates as epoch ms). `active_key` is unique: `<cidr>|<scope>`
 * while active, the entry id once removed, so one active entry per CIDR and scope is the store's
 * guarantee, not a check-then-insert.
 */
export const entrySqliteMigrations: SqliteMigration[] = [
  {
    id: 'allowlist-0001-entries',
    up: (db) => {
      db.exec(`
        CREATE TABLE entries (
          entry_id TEXT PRIMARY KEY,
          active_key TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          removed_at INTEGER,
          doc TEXT NOT NULL
        );
        CREATE UNIQUE INDEX entries_active_key ON entries (active_key);
        CREATE INDEX entries_active ON entries (removed_at, created_at, entry_id);
      `);
    },
  },
];

const DATES = ['expiresAt', 'createdAt', 'removedAt'] as const;

/** An entry document with its dates revived. */
export function entryFromJson(json: string): AllowlistEntry {
  const raw = JSON.parse(json) as Record<string, unknown>;
  for (const k of DATES) if (typeof raw[k] === 'string') raw[k] = new Date(raw[k] as string);
  return raw as unknown as AllowlistEntry;
}

const ms = (d: Date | null) => (d === null ? null : d.getTime());

/**
 * Sets the removal in the column and in the document, and frees the active key (it becomes the
 * entry id), in one statement whose WHERE is the guard: only an entry still active changes.
 */
const REMOVE = `UPDATE entries SET
  removed_at = ?,
  active_key = entry_id,
  doc = json_set(doc, '$.removedAt', ?, '$.removedBy', json(?), '$.removeReason', ?, '$.activeKey', entry_id)
  WHERE entry_id = ? AND removed_at IS NULL`;

/** Enumerated entries on SQLite. */
export class SqliteEntryRepository implements EntryRepository {
  constructor(private readonly store: SqliteStore) {}

  async create(tx: Transaction, e: AllowlistEntry): Promise<void> {
    await insertOrAlreadyExists(
      () =>
        this.store.exec(tx, (db) =>
          db
            .prepare('INSERT INTO entries (entry_id, active_key, created_at, removed_at, doc) VALUES (?, ?, ?, ?, ?)')
            .run(e.entryId, e.activeKey, e.createdAt.getTime(), ms(e.removedAt), JSON.stringify(e)),
        ),
      'an active entry for this CIDR and scope (or an entry with this id) already exists',
    );
  }

  get(entryId: string): Promise<AllowlistEntry | undefined> {
    return this.store.exec(undefined, (db) => {
      const row = db.prepare('SELECT doc FROM entries WHERE entry_id = ?').get(entryId) as { doc: string } | undefined;
      return row ? entryFromJson(row.doc) : undefined;
    });
  }

  remove(tx: Transaction, entryId: string, at: Date, by: Actor, reason: string): Promise<AllowlistEntry | undefined> {
    // In the caller's transaction: the UPDATE and the read of what it wrote are one step.
    return this.store.exec(tx, (db) => {
      const actor = { accountId: String(by.accountId), email: String(by.email) };
      const res = db.prepare(REMOVE).run(at.getTime(), at.toISOString(), JSON.stringify(actor), String(reason), entryId);
      if (res.changes !== 1) return undefined;
      const row = db.prepare('SELECT doc FROM entries WHERE entry_id = ?').get(entryId) as { doc: string } | undefined;
      return row ? entryFromJson(row.doc) : undefined;
    });
  }

  listActive(): Promise<AllowlistEntry[]> {
    return this.store.exec(undefined, (db) =>
      (db.prepare('SELECT doc FROM entries WHERE removed_at IS NULL ORDER BY created_at ASC, entry_id ASC').all() as Array<{ doc: string }>).map((r) => entryFromJson(r.doc)),
    );
  }
}
