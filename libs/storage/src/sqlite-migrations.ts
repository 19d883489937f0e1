import type Database from 'better-sqlite3';
import { MigrationError } from './errors.js';
import { checkMigrationIds, refuseDowngrade } from './migrations.js';

/**
 * One step of a SQLite schema. Applied once, in list order, inside its own IMMEDIATE transaction
 * together with its schema_migrations row, so a crash leaves it either fully applied or not at
 * all. Ids are permanent: never rename or reorder a shipped migration, append a new one.
 */
export interface SqliteMigration {
  /** Unique and permanent, e.g. `audit-client/outbox/0001-create`. */
  readonly id: string;
  /** Synchronous, like better-sqlite3 itself. */
  up(db: Database.Database): void;
}

/**
 * Brings the schema up to date: creates schema_migrations, refuses a downgrade, then applies each
 * missing migration. Safe to run at every start and from two processes at once (each step
 * re-checks its row under the write lock). A read-only store only checks, and refuses to start
 * when a migration is missing, because it could not apply it.
 */
export function migrateSqlite(
  db: Database.Database,
  where: string,
  migrations: readonly SqliteMigration[],
  readonly: boolean,
): string[] {
  checkMigrationIds(migrations.map((m) => m.id));
  const known = new Set(migrations.map((m) => m.id));
  const hasTable =
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get() !== undefined;
  if (!hasTable) {
    if (readonly) {
      if (migrations.length > 0) throw new MigrationError(`${where} has no schema yet; open it read-write once first`);
      return [];
    }
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)');
  }
  const appliedIds = () => new Set(db.prepare('SELECT id FROM schema_migrations').pluck().all() as string[]);
  const applied = appliedIds();
  refuseDowngrade(where, applied, known);
  const missing = migrations.filter((m) => !applied.has(m.id));
  if (readonly) {
    if (missing.length > 0) {
      throw new MigrationError(
        `${where} lacks migration(s) ${missing.map((m) => m.id).join(', ')}; open it read-write once first`,
      );
    }
    return [];
  }
  const isApplied = db.prepare('SELECT 1 FROM schema_migrations WHERE id = ?');
  const record = db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)');
  const done: string[] = [];
  for (const migration of missing) {
    const apply = db.transaction(() => {
      if (isApplied.get(migration.id) !== undefined) return; // another process got there first
      try {
        migration.up(db);
      } catch (err) {
        throw new MigrationError(`migration "${migration.id}" failed on ${where}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      record.run(migration.id, new Date().toISOString());
      done.push(migration.id);
    });
    apply.immediate();
  }
  // Someone may have applied a newer migration between our read and our writes.
  refuseDowngrade(where, appliedIds(), known);
  return done;
}
