import type { Transaction } from '@gatehouse/core';
import { insertOrAlreadyExists, type SqliteMigration, type SqliteStore } from '@gatehouse/storage';
import type { ReleaseFilter, ReleaseRecord, ReleaseRepository } from '../domain/model.js';
import { emptyPage } from './typed-values.js';

/**
 * The releases: the JSON document plus the columns the token lookup, the compare-and-sets, the
 * listing and the expiry scan use (dates as epoch ms). `token_hash` is unique. The refusal count
 * lives in its own column, owned by countRefusal(): an update() built on an older read never
 * takes refusals back, and counting one never bumps the version an approval depends on.
 */
export const releaseSqliteMigrations: SqliteMigration[] = [
  {
    id: 'secrets-0002-releases',
    up: (db) => {
      db.exec(`
        CREATE TABLE releases (
          release_id TEXT PRIMARY KEY,
          token_hash TEXT NOT NULL,
          environment TEXT NOT NULL,
          app TEXT NOT NULL,
          state TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          expires_at INTEGER NOT NULL,
          expiry_reported INTEGER NOT NULL,
          refused_count INTEGER NOT NULL,
          version INTEGER NOT NULL,
          doc TEXT NOT NULL
        );
        CREATE UNIQUE INDEX releases_token_hash ON releases (token_hash);
        CREATE INDEX releases_listing ON releases (created_at DESC, release_id DESC);
        CREATE INDEX releases_app_listing ON releases (environment, app, created_at DESC, release_id DESC);
        CREATE INDEX releases_expiry ON releases (state, expires_at);
      `);
    },
  },
];

const DATES = ['createdAt', 'expiresAt', 'redeemedAt', 'revokedAt'] as const;

interface ReleaseRow {
  doc: string;
  refused_count: number;
}

/** A release row back to the record: dates revived (approvals' too), the refusal count from its column. */
export function releaseFromRow(row: ReleaseRow): ReleaseRecord {
  const raw = JSON.parse(row.doc) as Record<string, unknown>;
  for (const k of DATES) if (typeof raw[k] === 'string') raw[k] = new Date(raw[k] as string);
  if (Array.isArray(raw.approvals)) {
    for (const a of raw.approvals as Array<Record<string, unknown>>) if (typeof a.approvedAt === 'string') a.approvedAt = new Date(a.approvedAt);
  }
  raw.refusedRedemptionCount = row.refused_count;
  return raw as unknown as ReleaseRecord;
}

const SELECT = 'SELECT doc, refused_count FROM releases';

/**
 * The redemption, one statement whose WHERE is the whole condition (this token, READY, not yet
 * expired): the state, the redeemer and the version change in the column and in the document
 * together (SET expressions all see the row before the update, so both get version + 1).
 */
const REDEEM = `UPDATE releases SET
  state = 'redeemed',
  version = version + 1,
  doc = json_set(doc, '$.state', 'redeemed', '$.redeemedAt', ?, '$.redeemedByIdentity', ?, '$.redeemedFromIp', ?, '$.version', version + 1)
  WHERE token_hash = ? AND state = 'ready' AND expires_at > ?`;

/** Every column but the refusal count, from the record (the document keeps a copy of each). */
const UPDATE = `UPDATE releases SET
  token_hash = ?, environment = ?, app = ?, state = ?, created_at = ?, expires_at = ?, expiry_reported = ?, version = ?, doc = ?
  WHERE release_id = ? AND version = ?`;

/** Releases on SQLite: each transition is one statement guarded by its WHERE. */
export class SqliteReleaseRepository implements ReleaseRepository {
  constructor(private readonly store: SqliteStore) {}

  async create(tx: Transaction, r: ReleaseRecord): Promise<void> {
    await insertOrAlreadyExists(
      () =>
        this.store.exec(tx, (db) =>
          db
            .prepare(
              `INSERT INTO releases (release_id, token_hash, environment, app, state, created_at, expires_at, expiry_reported, refused_count, version, doc)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(
              r.releaseId,
              r.tokenHash,
              r.environment,
              r.app,
              r.state,
              r.createdAt.getTime(),
              r.expiresAt.getTime(),
              r.expiryReported ? 1 : 0,
              r.refusedRedemptionCount,
              r.version,
              JSON.stringify(r),
            ),
        ),
      'a release with this id or token already exists',
    );
  }

  get(releaseId: string, tx?: Transaction): Promise<ReleaseRecord | undefined> {
    return this.store.exec(tx, (db) => {
      const row = db.prepare(`${SELECT} WHERE release_id = ?`).get(releaseId) as ReleaseRow | undefined;
      return row ? releaseFromRow(row) : undefined;
    });
  }

  byTokenHash(tokenHash: string, tx?: Transaction): Promise<ReleaseRecord | undefined> {
    return this.store.exec(tx, (db) => {
      const row = db.prepare(`${SELECT} WHERE token_hash = ?`).get(tokenHash) as ReleaseRow | undefined;
      return row ? releaseFromRow(row) : undefined;
    });
  }

  redeem(tx: Transaction, tokenHash: string, now: Date, by: { identity: string; ip: string }): Promise<ReleaseRecord | undefined> {
    // In the caller's transaction: the UPDATE and the read of what it wrote are one step.
    return this.store.exec(tx, (db) => {
      const res = db.prepare(REDEEM).run(now.toISOString(), String(by.identity), String(by.ip), tokenHash, now.getTime());
      if (res.changes !== 1) return undefined;
      const row = db.prepare(`${SELECT} WHERE token_hash = ?`).get(tokenHash) as ReleaseRow | undefined;
      return row ? releaseFromRow(row) : undefined;
    });
  }

  update(tx: Transaction, r: ReleaseRecord): Promise<boolean> {
    return this.store.exec(tx, (db) => {
      const res = db
        .prepare(UPDATE)
        .run(r.tokenHash, r.environment, r.app, r.state, r.createdAt.getTime(), r.expiresAt.getTime(), r.expiryReported ? 1 : 0, r.version, JSON.stringify(r), r.releaseId, r.version - 1);
      return res.changes === 1;
    });
  }

  async countRefusal(tx: Transaction, releaseId: string): Promise<void> {
    await this.store.exec(tx, (db) => db.prepare('UPDATE releases SET refused_count = refused_count + 1 WHERE release_id = ?').run(releaseId));
  }

  list(
    filter: ReleaseFilter,
    page: { after?: { createdAt: Date; releaseId: string } | undefined; limit: number },
  ): Promise<ReleaseRecord[]> {
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
    if (filter.deploymentRef !== undefined) {
      where.push("json_extract(doc, '$.deploymentRef') = ?");
      params.push(String(filter.deploymentRef));
    }
    if (filter.createdFrom !== undefined) {
      where.push('created_at >= ?');
      params.push(filter.createdFrom.getTime());
    }
    if (filter.createdTo !== undefined) {
      where.push('created_at < ?');
      params.push(filter.createdTo.getTime());
    }
    if (filter.states?.length) {
      const states = [...new Set(filter.states)];
      where.push(`state IN (${states.map(() => '?').join(', ')})`);
      params.push(...states);
    }
    if (page.after) {
      where.push('(created_at < ? OR (created_at = ? AND release_id < ?))');
      params.push(page.after.createdAt.getTime(), page.after.createdAt.getTime(), page.after.releaseId);
    }
    const sql = `${SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, release_id DESC LIMIT ?`;
    return this.store.exec(undefined, (db) => (db.prepare(sql).all(...params, page.limit) as ReleaseRow[]).map(releaseFromRow));
  }

  dueForExpiry(now: Date, limit: number): Promise<ReleaseRecord[]> {
    if (emptyPage(limit)) return Promise.resolve([]);
    return this.store.exec(undefined, (db) =>
      (
        db
          .prepare(
            `${SELECT} WHERE (state IN ('pending_approval', 'ready') AND expires_at <= ?) OR (state = 'expired' AND expiry_reported = 0)
             ORDER BY expires_at ASC, release_id ASC LIMIT ?`,
          )
          .all(now.getTime(), limit) as ReleaseRow[]
      ).map(releaseFromRow),
    );
  }
}
