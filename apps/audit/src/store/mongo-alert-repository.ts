import type { ClientSession, Db } from 'mongodb';
import type { Transaction } from '@gatehouse/core';
import { mongoSession, type MongoIndexSpec, type MongoStore } from '@gatehouse/storage';
import type { Acknowledger, AlertChangeRecord, AlertFilter, AlertRecord, AlertRepository, RaisedAlertData } from '../domain/alert-store.js';

const ALERTS = 'audit_alerts';
const CHANGES = 'audit_alert_changes';
const COUNTERS = 'audit_counters';

interface AlertDoc extends Omit<AlertRecord, 'alertId'> {
  _id: string;
}
interface ChangeDoc {
  _id: number;
  alertId: string;
  change: AlertChangeRecord['change'];
}

/** Indexes for listing alerts newest first. */
export const alertMongoIndexes: MongoIndexSpec[] = [{ collection: ALERTS, key: { raisedAt: -1, _id: -1 }, options: { name: 'audit_alerts_raised' } }];

function toAlert(d: AlertDoc): AlertRecord {
  const { _id, ...rest } = d;
  return {
    ...rest,
    alertId: _id,
    acknowledgedAt: rest.acknowledgedAt ?? undefined,
    acknowledgedBy: rest.acknowledgedBy ?? undefined,
    note: rest.note ?? undefined,
  };
}

/** Alerts on MongoDB; the change cursor comes from a counter document inside the transaction. */
export class MongoAlertRepository implements AlertRepository {
  constructor(private readonly store: MongoStore) {}

  private async addChange(db: Db, session: ClientSession, alertId: string, change: AlertChangeRecord['change']): Promise<AlertChangeRecord> {
    const counter = await db
      .collection<{ _id: string; value: number }>(COUNTERS)
      .findOneAndUpdate({ _id: 'alert_changes' }, { $inc: { value: 1 } }, { upsert: true, returnDocument: 'after', session });
    const cursor = counter?.value ?? 1;
    await db.collection<ChangeDoc>(CHANGES).insertOne({ _id: cursor, alertId, change }, { session });
    const alert = await db.collection<AlertDoc>(ALERTS).findOne({ _id: alertId }, { session });
    if (!alert) throw new Error(`alert ${alertId} vanished inside its transaction`);
    return { cursor, change, alert: toAlert(alert) };
  }

  /** In the caller's transaction when given (one unit with the log entry), else in one of its own. */
  private inTx<T>(outer: Transaction | undefined, fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return outer ? fn(outer) : this.store.run(fn);
  }

  insertRaised(alerts: RaisedAlertData[], outer?: Transaction): Promise<AlertChangeRecord[]> {
    return this.inTx(outer, async (tx: Transaction) => {
      const session = mongoSession(tx);
      const db = this.store.db;
      const out: AlertChangeRecord[] = [];
      for (const a of alerts) {
        const { alertId, ...rest } = a;
        const r = await db
          .collection<AlertDoc>(ALERTS)
          .updateOne({ _id: alertId }, { $setOnInsert: { ...rest, state: 'ALERT_STATE_OPEN' } }, { upsert: true, session });
        if (r.upsertedCount === 1) out.push(await this.addChange(db, session, alertId, 'ALERT_CHANGE_RAISED'));
      }
      return out;
    });
  }

  acknowledge(alertId: string, by: Acknowledger, note: string, at: Date, outer?: Transaction): Promise<AlertChangeRecord | 'already' | undefined> {
    return this.inTx(outer, async (tx: Transaction) => {
      const session = mongoSession(tx);
      const db = this.store.db;
      const r = await db
        .collection<AlertDoc>(ALERTS)
        .updateOne(
          { _id: String(alertId), state: 'ALERT_STATE_OPEN' },
          { $set: { state: 'ALERT_STATE_ACKNOWLEDGED', acknowledgedAt: at, acknowledgedBy: by, note } },
          { session },
        );
      if (r.modifiedCount === 1) return this.addChange(db, session, alertId, 'ALERT_CHANGE_ACKNOWLEDGED');
      return (await db.collection<AlertDoc>(ALERTS).findOne({ _id: String(alertId) }, { session })) ? 'already' : undefined;
    });
  }

  async list(filter: AlertFilter, page: { before?: { raisedAt: Date; alertId: string } | undefined; limit: number }): Promise<AlertRecord[]> {
    const f: Record<string, unknown> = {};
    if (filter.states?.length) f['state'] = { $in: filter.states.map(String) };
    if (filter.severities?.length) f['severity'] = { $in: filter.severities.map(String) };
    if (filter.ruleId !== undefined) f['ruleId'] = { $eq: String(filter.ruleId) };
    const raised: Record<string, Date> = {};
    if (filter.raisedFrom) raised['$gte'] = filter.raisedFrom;
    if (filter.raisedTo) raised['$lt'] = filter.raisedTo;
    if (Object.keys(raised).length) f['raisedAt'] = raised;
    if (page.before) {
      f['$or'] = [{ raisedAt: { $lt: page.before.raisedAt } }, { raisedAt: page.before.raisedAt, _id: { $lt: String(page.before.alertId) } }];
    }
    const docs = await this.store.db.collection<AlertDoc>(ALERTS).find(f).sort({ raisedAt: -1, _id: -1 }).limit(page.limit).toArray();
    return docs.map(toAlert);
  }

  async changesAfter(cursor: number, limit: number): Promise<AlertChangeRecord[]> {
    const changes = await this.store.db.collection<ChangeDoc>(CHANGES).find({ _id: { $gt: cursor } }).sort({ _id: 1 }).limit(limit).toArray();
    const out: AlertChangeRecord[] = [];
    for (const c of changes) {
      const a = await this.store.db.collection<AlertDoc>(ALERTS).findOne({ _id: c.alertId });
      if (a) out.push({ cursor: c._id, change: c.change, alert: toAlert(a) });
    }
    return out;
  }

  async latestCursor(): Promise<number> {
    const c = await this.store.db.collection<{ _id: string; value: number }>(COUNTERS).findOne({ _id: 'alert_changes' });
    return c?.value ?? 0;
  }

  async countOpenByRule(): Promise<Map<string, number>> {
    const rows = await this.store.db
      .collection<AlertDoc>(ALERTS)
      .aggregate<{ _id: string; n: number }>([{ $match: { state: 'ALERT_STATE_OPEN' } }, { $group: { _id: '$ruleId', n: { $sum: 1 } } }], { maxTimeMS: this.store.maxTimeMS() })
      .toArray();
    return new Map(rows.map((r) => [r._id, r.n]));
  }
}
