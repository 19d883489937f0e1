import { InvalidArgumentError, type Clock, type Transaction } from '@gatehouse/core';
import { LogWritesRefusedError } from './audit-log.js';
import type { AlertEngine, AlertRule, RaisedAlert } from './alerts/index.js';
import type { Acknowledger, AlertChangeRecord, AlertFilter, AlertRecord, AlertRepository, RaisedAlertData } from './alert-store.js';
import type { AuditEventData, LogRecord } from './event.js';
import type { LiveFeed } from './live-feed.js';

/** Wiring of the alert side. */
export interface AlertServiceOptions {
  repo: AlertRepository;
  engine: AlertEngine;
  rules: readonly AlertRule[];
  clock: Clock;
  feed: LiveFeed;
  /** Records alert changes in the log itself, in the same unit as the change; absent in unit tests of the rules. */
  recorder?: AlertRecorder;
  onError?: (err: unknown) => void;
}

/**
 * How alert changes reach the log (P10: audit's own actions are logged too): `unit` runs the
 * alert store's write and the append of the events it yields in one transaction (issue 14), so
 * a raised or acknowledged alert never exists without its ALERT_RAISE / ALERT_ACKNOWLEDGE entry.
 */
export interface AlertRecorder {
  unit<T>(write: (tx: Transaction) => Promise<T>, events: (result: T) => AuditEventData[]): Promise<T>;
  raised(changes: AlertChangeRecord[]): AuditEventData[];
  acknowledged(alert: AlertRecord, by: Acknowledger, source: AckSource): AuditEventData[];
}

/** Where an acknowledgement came from, for its event. */
export interface AckSource {
  peerIp: string;
  requestId: string;
}

/**
 * Turns committed log records into stored alerts (P11: caught at once) and serves them. The
 * engine sees records synchronously, in sequence order, right after each append commits, so an
 * alert is stored well within a second of the event that completes its rule.
 */
export class AlertService {
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly o: AlertServiceOptions) {}

  get rules(): readonly AlertRule[] {
    return this.o.rules;
  }

  /** Feed of committed records. Evaluation is synchronous; storing is chained, in order. */
  onAppended(records: readonly LogRecord[]): void {
    const raised: RaisedAlert[] = [];
    for (const r of records) raised.push(...this.o.engine.observe(r));
    if (raised.length === 0) return;
    this.pending = this.pending.then(() => this.store(raised)).catch((err: unknown) => this.o.onError?.(err));
  }

  /** Resolves when every alert raised so far is stored (tests, shutdown). */
  settled(): Promise<void> {
    return this.pending;
  }

  /**
   * Stores an alert raised outside the rules (the log's integrity check), in turn with the rest;
   * an id already stored is not raised again.
   */
  raise(alert: RaisedAlertData): Promise<void> {
    this.pending = this.pending.then(() => this.store([alert])).catch((err: unknown) => this.o.onError?.(err));
    return this.pending;
  }

  private async store(raised: RaisedAlertData[]): Promise<void> {
    const changes = await this.insertRecorded(raised.map((a) => ({ ...a })));
    if (changes.length > 0) this.o.feed.notify();
  }

  /**
   * Stores raised alerts with their ALERT_RAISE entries, as one unit. While the log refuses
   * writes (its integrity check failed) the alert is still stored, without the entry: that
   * alert is the one the officer must see.
   */
  private async insertRecorded(raised: RaisedAlertData[]): Promise<AlertChangeRecord[]> {
    const r = this.o.recorder;
    if (!r) return this.o.repo.insertRaised(raised);
    try {
      return await r.unit((tx) => this.o.repo.insertRaised(raised, tx), (changes) => r.raised(changes));
    } catch (err) {
      if (!(err instanceof LogWritesRefusedError)) throw err;
      this.o.onError?.(err);
      return this.o.repo.insertRaised(raised);
    }
  }

  /**
   * After a restart: replays the records of the longest window (read newest first from
   * `recent`) with the alerts already stored, and stores what the downtime missed.
   */
  async rebuild(recent: (cutoff: Date) => Promise<LogRecord[]>): Promise<number> {
    const maxWindow = Math.max(0, ...this.o.rules.filter((r) => r.enabled).map((r) => r.windowMs));
    if (maxWindow === 0) return 0;
    const now = this.o.clock.now().getTime();
    const records = await recent(new Date(now - maxWindow));
    const stored = await this.o.repo.list({ raisedFrom: new Date(now - 2 * maxWindow) }, { limit: 100_000 });
    const raised = this.o.engine.replay(records, stored);
    if (raised.length === 0) return 0;
    const changes = await this.insertRecorded(raised.map((a) => ({ ...a })));
    if (changes.length > 0) this.o.feed.notify();
    return changes.length;
  }

  list(filter: AlertFilter, page: { before?: { raisedAt: Date; alertId: string } | undefined; limit: number }): Promise<AlertRecord[]> {
    return this.o.repo.list(filter, page);
  }

  changesAfter(cursor: number, limit: number): Promise<AlertChangeRecord[]> {
    return this.o.repo.changesAfter(cursor, limit);
  }

  latestCursor(): Promise<number> {
    return this.o.repo.latestCursor();
  }

  /** OPEN alerts by rule id (what an officer still has to acknowledge); rules with none are left out. */
  openByRule(): Promise<Map<string, number>> {
    return this.o.repo.countOpenByRule();
  }

  /** OPEN → ACKNOWLEDGED with the officer's note (required: the justification is the point). */
  async acknowledge(alertId: string, by: Acknowledger, note: string, source: AckSource = { peerIp: '', requestId: '' }): Promise<AlertChangeRecord | 'already' | undefined> {
    const trimmed = note.trim();
    if (trimmed.length === 0) throw new InvalidArgumentError('note', 'is required: say what was checked and why the alert is closed');
    if (trimmed.length > 2000) throw new InvalidArgumentError('note', 'is longer than 2000 characters');
    if (!/^[0-9a-f]{32}$/.test(alertId)) throw new InvalidArgumentError('alert_id', 'is not an alert id');
    const at = this.o.clock.now();
    const r = this.o.recorder;
    const result = r
      ? await r.unit(
          (tx) => this.o.repo.acknowledge(alertId, by, trimmed, at, tx),
          (res) => (res && res !== 'already' ? r.acknowledged(res.alert, by, source) : []),
        )
      : await this.o.repo.acknowledge(alertId, by, trimmed, at);
    if (result && result !== 'already') this.o.feed.notify();
    return result;
  }
}
