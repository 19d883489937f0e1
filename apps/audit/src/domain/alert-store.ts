import type { Transaction } from '@gatehouse/core';
/** An alert as raised by a rule (the engine's output). */
export interface RaisedAlertData {
  alertId: string;
  ruleId: string;
  ruleName: string;
  severity: string;
  summary: string;
  groupKey: string;
  count: number;
  threshold: number;
  windowMs: number;
  firstSequence: number;
  lastSequence: number;
  raisedAt: Date;
}

/** Who acknowledged an alert. */
export interface Acknowledger {
  accountId: string;
  email: string;
  roles: string[];
}

/** An alert with its life cycle. */
export interface AlertRecord extends RaisedAlertData {
  state: 'ALERT_STATE_OPEN' | 'ALERT_STATE_ACKNOWLEDGED';
  acknowledgedAt?: Date | undefined;
  acknowledgedBy?: Acknowledger | undefined;
  note?: string | undefined;
}

/** One change of an alert, in cursor order (what WatchAlerts streams). */
export interface AlertChangeRecord {
  cursor: number;
  change: 'ALERT_CHANGE_RAISED' | 'ALERT_CHANGE_ACKNOWLEDGED';
  alert: AlertRecord;
}

/** Filters of ListAlerts. */
export interface AlertFilter {
  states?: string[];
  severities?: string[];
  ruleId?: string | undefined;
  raisedFrom?: Date | undefined;
  raisedTo?: Date | undefined;
}

/** The alerts' storage port (SQLite and MongoDB adapters). */
export interface AlertRepository {
  /**
   * Stores newly raised alerts, ignoring ids already stored (a replay after restart). With `tx`
   * it writes in that transaction (the log append that records the raise), else in its own.
   */
  insertRaised(alerts: RaisedAlertData[], tx?: Transaction): Promise<AlertChangeRecord[]>;
  /** OPEN → ACKNOWLEDGED as a compare-and-set; `undefined` if unknown, 'already' if not OPEN. `tx` as for insertRaised. */
  acknowledge(alertId: string, by: Acknowledger, note: string, at: Date, tx?: Transaction): Promise<AlertChangeRecord | 'already' | undefined>;
  /** Newest first; `before` is the raisedAt/id cursor of the previous page's last alert. */
  list(filter: AlertFilter, page: { before?: { raisedAt: Date; alertId: string } | undefined; limit: number }): Promise<AlertRecord[]>;
  changesAfter(cursor: number, limit: number): Promise<AlertChangeRecord[]>;
  latestCursor(): Promise<number>;
  /** How many alerts are OPEN (not yet acknowledged), by rule id; rules with none are left out. */
  countOpenByRule(): Promise<Map<string, number>>;
}
