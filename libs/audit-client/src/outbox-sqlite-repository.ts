import type { Transaction } from '@gatehouse/core';
import type { SqliteDatabase, SqliteMigration, SqliteStore } from '@gatehouse/storage';
import {
  checkAcks,
  checkEventId,
  checkEventIds,
  checkOutboxDate,
  checkOutboxEvents,
  checkPendingArgs,
  clipOutboxError,
  type OutboxAck,
  type OutboxEvent,
  type OutboxRecord,
  type OutboxRepository,
} from './outbox-repository.js';

/**
 * The outbox table. A service appends these to its own SQLite migration list. `seq` is an
 * AUTOINCREMENT key, so insertion order is monotonic and never reused, even after a purge.
 * Times are milliseconds since the epoch (UTC).
 */
export const outboxSqliteMigrations: readonly SqliteMigration[] = [
  {
    id: 'audit-client/outbox/0001-create',
    up: (db) =>
      db.exec(`
        CREATE TABLE audit_outbox (
          seq             INTEGER PRIMARY KEY AUTOINCREMENT,
          event_id        TEXT    NOT NULL UNIQUE,
          payload         BLOB    NOT NULL,
          created_at      INTEGER NOT NULL,
          attempts        INTEGER NOT NULL DEFAULT 0,
          next_attempt_at INTEGER NOT NULL,
          last_error      TEXT,
          shipped_at      INTEGER,
          sequence        INTEGER
        ) STRICT;
        CREATE INDEX audit_outbox_pending ON audit_outbox (shipped_at, next_attempt_at, seq);
      `),
  },
];

interface OutboxRow {
  seq: number;
  event_id: string;
  payload: Uint8Array;
  created_at: number;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  shipped_at: number | null;
  sequence: number | null;
}

const COLUMNS = 'seq, event_id, payload, created_at, attempts, next_attempt_at, last_error, shipped_at, sequence';

function toRecord(row: OutboxRow): OutboxRecord {
  return {
    seq: row.seq,
    eventId: row.event_id,
    payload: new Uint8Array(row.payload), // a plain copy, not the driver's Buffer
    createdAt: new Date(row.created_at),
    attempts: row.attempts,
    nextAttemptAt: new Date(row.next_attempt_at),
    ...(row.last_error === null ? {} : { lastError: row.last_error }),
    ...(row.shipped_at === null ? {} : { shippedAt: new Date(row.shipped_at) }),
    ...(row.sequence === null ? {} : { sequence: row.sequence }),
  };
}

/** Statements prepared once per connection. */
function statements(db: SqliteDatabase) {
  return {
    insert: db.prepare(
      'INSERT INTO audit_outbox (event_id, payload, created_at, attempts, next_attempt_at) VALUES (?, ?, ?, 0, ?) ON CONFLICT (event_id) DO NOTHING',
    ),
    pending: db.prepare(
      `SELECT ${COLUMNS} FROM audit_outbox WHERE shipped_at IS NULL AND next_attempt_at <= ? ORDER BY seq LIMIT ?`,
    ),
    shipped: db.prepare('UPDATE audit_outbox SET shipped_at = ?, sequence = ? WHERE event_id = ? AND shipped_at IS NULL'),
    failed: db.prepare(
      'UPDATE audit_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE event_id = ? AND shipped_at IS NULL',
    ),
    get: db.prepare(`SELECT ${COLUMNS} FROM audit_outbox WHERE event_id = ?`),
    countPending: db.prepare('SELECT count(*) FROM audit_outbox WHERE shipped_at IS NULL').pluck(),
    purge: db.prepare('DELETE FROM audit_outbox WHERE shipped_at IS NOT NULL AND shipped_at < ?'),
  };
}

/** The outbox on SQLite. Needs outboxSqliteMigrations in the store's migration list. */
export class SqliteOutboxRepository implements OutboxRepository {
  readonly #store: SqliteStore;
  readonly #sql: ReturnType<typeof statements>;

  constructor(store: SqliteStore) {
    this.#store = store;
    this.#sql = statements(store.db); // fails here, at wiring time, if the migration is missing
  }

  async add(tx: Transaction, events: readonly OutboxEvent[]): Promise<void> {
    const unique = checkOutboxEvents(events);
    return this.#store.exec(tx, () => this.#insert(unique));
  }

  async addNow(events: readonly OutboxEvent[]): Promise<void> {
    const unique = checkOutboxEvents(events);
    if (unique.length === 0) return;
    await this.#store.run(async (tx) => this.#store.exec(tx, () => this.#insert(unique)));
  }

  async pending(limit: number, now: Date): Promise<OutboxRecord[]> {
    checkPendingArgs(limit, now);
    return this.#store.exec(undefined, () => (this.#sql.pending.all(now.getTime(), limit) as OutboxRow[]).map(toRecord));
  }

  async markShipped(acks: readonly OutboxAck[], at: Date): Promise<number> {
    checkAcks(acks);
    checkOutboxDate(at, 'at');
    // A unit like the services' own, so the mark rides in their group commit instead of ending
    // it with an fsync of its own: the mark is bookkeeping (lost in a crash, the rows are sent
    // again and Append dedups them), nobody waits on it being durable first.
    return this.#store.run(async (tx) =>
      this.#store.exec(tx, () => acks.reduce((n, ack) => n + this.#sql.shipped.run(at.getTime(), ack.sequence, ack.eventId).changes, 0)),
    );
  }

  async markFailed(eventIds: readonly string[], error: string, nextAttemptAt: Date): Promise<number> {
    const ids = checkEventIds(eventIds);
    checkOutboxDate(nextAttemptAt, 'nextAttemptAt');
    const message = clipOutboxError(error);
    return this.#store.run(async (tx) => this.#store.exec(tx, () => ids.reduce((n, id) => n + this.#sql.failed.run(message, nextAttemptAt.getTime(), id).changes, 0)));
  }

  async get(eventId: string): Promise<OutboxRecord | undefined> {
    checkEventId(eventId);
    return this.#store.exec(undefined, () => {
      const row = this.#sql.get.get(eventId) as OutboxRow | undefined;
      return row === undefined ? undefined : toRecord(row);
    });
  }

  async countPending(): Promise<number> {
    return this.#store.exec(undefined, () => this.#sql.countPending.get() as number);
  }

  async purgeShipped(olderThan: Date): Promise<number> {
    checkOutboxDate(olderThan, 'olderThan');
    return this.#store.exec(undefined, () => this.#sql.purge.run(olderThan.getTime()).changes);
  }

  #insert(events: readonly OutboxEvent[]): void {
    for (const event of events) {
      const at = event.createdAt.getTime();
      this.#sql.insert.run(event.eventId, event.payload, at, at);
    }
  }
}
