import { InvalidArgumentError, type Clock } from '@gatehouse/core';
import type { AlertEngine, AlertRule, RaisedAlert } from './alerts/index.js';
import type { Acknowledger, AlertChangeRecord, AlertFilter, AlertRecord, AlertRepository, RaisedAlertData } from './alert-store.js';
import type { LogRecord } from './event.js';
import type { LiveFeed } from './live-feed.js';

/** Wiring of the alert side. */
export interface AlertServiceOptions {
  repo: AlertRepository;
  engine: AlertEngine;
  rules: readonly AlertRule[];
  clock: Clock;
  feed: LiveFeed;
  /** Called with alerts just stored, to record them in the log itself (ACTION_AUDIT_ALERT_RAISE). */
  onRaised?: (alerts: AlertChangeRecord[]) => Promise<void>;
  onError?: (err: unknown) => void;
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
    const changes = await this.o.repo.insertRaised(raised.map((a) => ({ ...a })));
    if (changes.length === 0) return;
    this.o.feed.notify();
    await this.o.onRaised?.(changes);
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
    const changes = await this.o.repo.insertRaised(raised.map((a) => ({ ...a })));
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

  /** OPEN → ACKNOWLEDGED with the officer's note (required: the justification is the point). */
  async acknowledge(alertId: string, by: Acknowledger, note: string): Promise<AlertChangeRecord | 'already' | undefined> {
    const trimmed = note.trim();
    if (trimmed.length === 0) throw new InvalidArgumentError('note', 'is required: say what was checked and why the alert is closed');
    if (trimmed.length > 2000) throw new InvalidArgumentError('note', 'is longer than 2000 characters');
    if (!/^[0-9a-f]{32}$/.test(alertId)) throw new InvalidArgumentError('alert_id', 'is not an alert id');
    const result = await this.o.repo.acknowledge(alertId, by, trimmed, this.o.clock.now());
    if (result && result !== 'already') this.o.feed.notify();
    return result;
  }
}
