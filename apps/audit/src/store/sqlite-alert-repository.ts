import type { Transaction } from '@gatehouse/core';
import { sqliteTx, type SqliteDatabase, type SqliteMigration, type SqliteStore } from '@gatehouse/storage';
import type { Acknowledger, AlertChangeRecord, AlertFilter, AlertRecord, AlertRepository, RaisedAlertData } from '../domain/alert-store.js';

/** Alerts and their change feed (the cursor is the feed's autoincrement key). */
export const alertSqliteMigrations: SqliteMigration[] = [
  {
    id: 'audit-0002-alerts',
    up: (db) => {
      db.exec(`
        CREATE TABLE audit_alerts (
          alert_id TEXT PRIMARY KEY,
          rule_id TEXT NOT NULL,
          rule_name TEXT NOT NULL,
          severity TEXT NOT NULL,
          summary TEXT NOT NULL,
          group_key TEXT NOT NULL,
          count INTEGER NOT NULL,
          threshold INTEGER NOT NULL,
          window_ms INTEGER NOT NULL,
          first_seq INTEGER NOT NULL,
          last_seq INTEGER NOT NULL,
          raised_at INTEGER NOT NULL,
          state TEXT NOT NULL,
          acked_at INTEGER,
          acked_by TEXT,
          note TEXT
        );
        CREATE INDEX audit_alerts_raised ON audit_alerts (raised_at DESC, alert_id DESC);
        CREATE TABLE audit_alert_changes (
          cursor INTEGER PRIMARY KEY AUTOINCREMENT,
          alert_id TEXT NOT NULL REFERENCES audit_alerts (alert_id),
          change TEXT NOT NULL
        );
      `);
    },
  },
];

interface AlertRow {
  alert_id: string;
  rule_id: string;
  rule_name: string;
  severity: string;
  summary: string;
  group_key: string;
  count: number;
  threshold: number;
  window_ms: number;
  first_seq: number;
  last_seq: number;
  raised_at: number;
  state: string;
  acked_at: number | null;
  acked_by: string | null;
  note: string | null;
}

function toAlert(r: AlertRow): AlertRecord {
  return {
    alertId: r.alert_id,
    ruleId: r.rule_id,
    ruleName: r.rule_name,
    severity: r.severity,
    summary: r.summary,
    groupKey: r.group_key,
    count: r.count,
    threshold: r.threshold,
    windowMs: r.window_ms,
    firstSequence: r.first_seq,
    lastSequence: r.last_seq,
    raisedAt: new Date(r.raised_at),
    state: r.state as AlertRecord['state'],
    acknowledgedAt: r.acked_at === null ? undefined : new Date(r.acked_at),
    acknowledgedBy: r.acked_by === null ? undefined : (JSON.parse(r.acked_by) as Acknowledger),
    note: r.note ?? undefined,
  };
}

/** Alerts on SQLite. */
export class SqliteAlertRepository implements AlertRepository {
  constructor(private readonly store: SqliteStore) {}

  private addChange(db: SqliteDatabase, alertId: string, change: AlertChangeRecord['change']): AlertChangeRecord {
    const info = db.prepare('INSERT INTO audit_alert_changes (alert_id, change) VALUES (?, ?)').run(alertId, change);
    const alert = toAlert(db.prepare('SELECT * FROM audit_alerts WHERE alert_id = ?').get(alertId) as AlertRow);
    return { cursor: Number(info.lastInsertRowid), change, alert };
  }

  /** In the caller's transaction when given (one unit with the log entry), else in one of its own. */
  private inTx<T>(outer: Transaction | undefined, fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return outer ? fn(outer) : this.store.run(fn);
  }

  insertRaised(alerts: RaisedAlertData[], outer?: Transaction): Promise<AlertChangeRecord[]> {
    return this.inTx(outer, async (tx: Transaction) => {
      const db = sqliteTx(tx);
      const ins = db.prepare(`INSERT OR IGNORE INTO audit_alerts (alert_id, rule_id, rule_name, severity, summary, group_key, count,
        threshold, window_ms, first_seq, last_seq, raised_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ALERT_STATE_OPEN')`);
      const out: AlertChangeRecord[] = [];
      for (const a of alerts) {
        const r = ins.run(a.alertId, a.ruleId, a.ruleName, a.severity, a.summary, a.groupKey, a.count, a.threshold, a.windowMs, a.firstSequence, a.lastSequence, a.raisedAt.getTime());
        if (r.changes === 1) out.push(this.addChange(db, a.alertId, 'ALERT_CHANGE_RAISED'));
      }
      return out;
    });
  }

  acknowledge(alertId: string, by: Acknowledger, note: string, at: Date, outer?: Transaction): Promise<AlertChangeRecord | 'already' | undefined> {
    return this.inTx(outer, async (tx: Transaction) => {
      const db = sqliteTx(tx);
      const r = db
        .prepare("UPDATE audit_alerts SET state = 'ALERT_STATE_ACKNOWLEDGED', acked_at = ?, acked_by = ?, note = ? WHERE alert_id = ? AND state = 'ALERT_STATE_OPEN'")
        .run(at.getTime(), JSON.stringify(by), note, alertId);
      if (r.changes === 1) return this.addChange(db, alertId, 'ALERT_CHANGE_ACKNOWLEDGED');
      return db.prepare('SELECT 1 FROM audit_alerts WHERE alert_id = ?').get(alertId) ? 'already' : undefined;
    });
  }

  list(filter: AlertFilter, page: { before?: { raisedAt: Date; alertId: string } | undefined; limit: number }): Promise<AlertRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const inList = (col: string, v: string[] | undefined) => {
      if (v && v.length) {
        where.push(`${col} IN (${v.map(() => '?').join(', ')})`);
        params.push(...v);
      }
    };
    inList('state', filter.states);
    inList('severity', filter.severities);
    if (filter.ruleId !== undefined) {
      where.push('rule_id = ?');
      params.push(filter.ruleId);
    }
    if (filter.raisedFrom) {
      where.push('raised_at >= ?');
      params.push(filter.raisedFrom.getTime());
    }
    if (filter.raisedTo) {
      where.push('raised_at < ?');
      params.push(filter.raisedTo.getTime());
    }
    if (page.before) {
      where.push('(raised_at < ? OR (raised_at = ? AND alert_id < ?))');
      params.push(page.before.raisedAt.getTime(), page.before.raisedAt.getTime(), page.before.alertId);
    }
    const sql = `SELECT * FROM audit_alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY raised_at DESC, alert_id DESC LIMIT ?`;
    return this.store.exec(undefined, (db) => (db.prepare(sql).all(...params, page.limit) as AlertRow[]).map(toAlert));
  }

  changesAfter(cursor: number, limit: number): Promise<AlertChangeRecord[]> {
    return this.store.exec(undefined, (db) =>
      (
        db
          .prepare('SELECT c.cursor, c.change, a.* FROM audit_alert_changes c JOIN audit_alerts a USING (alert_id) WHERE c.cursor > ? ORDER BY c.cursor LIMIT ?')
          .all(cursor, limit) as Array<AlertRow & { cursor: number; change: AlertChangeRecord['change'] }>
      ).map((r) => ({ cursor: r.cursor, change: r.change, alert: toAlert(r) })),
    );
  }

  latestCursor(): Promise<number> {
    return this.store.exec(undefined, (db) => (db.prepare('SELECT COALESCE(MAX(cursor), 0) AS c FROM audit_alert_changes').get() as { c: number }).c);
  }

  countOpenByRule(): Promise<Map<string, number>> {
    return this.store.exec(undefined, (db) => {
      const rows = db.prepare("SELECT rule_id, COUNT(*) AS n FROM audit_alerts WHERE state = 'ALERT_STATE_OPEN' GROUP BY rule_id").all() as Array<{ rule_id: string; n: number }>;
      return new Map(rows.map((r) => [r.rule_id, r.n]));
    });
  }
}
