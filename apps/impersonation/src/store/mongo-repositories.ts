import type { Transaction } from '@gatehouse/core';
import { inMongoTx, inTurn, inTurnUntilCommit, insertOrAlreadyExists, isDuplicateKey, type MongoIndexSpec, type MongoStore } from '@gatehouse/storage';
import type { Filter } from 'mongodb';
import type {
  AccessReport,
  AccessRepository,
  AccessedRecords,
  ActivePage,
  Actor,
  AnomalyFilter,
  AnomalyRecord,
  AnomalyRepository,
  BurstRepository,
  BurstWindow,
  GrantRecord,
  GrantRepository,
  LockRecord,
  LockRepository,
  NewestPage,
  Staff,
} from '../domain/model.js';
import { emptyPage } from './documents.js';

const GRANTS = 'grants';
const BURSTS = 'burst_windows';
const ANOMALIES = 'anomalies';
const LOCKS = 'impersonation_locks';
const REPORTS = 'access_reports';

/** Every lookup, listing and scan the adapters below make, by index. */
export const impersonationMongoIndexes: MongoIndexSpec[] = [
  { collection: GRANTS, key: { customerDomain: 1, startedAt: -1, _id: -1 }, options: { name: 'grants_domain_log' } },
  { collection: GRANTS, key: { state: 1, expiresAt: 1, _id: 1 }, options: { name: 'grants_active' } },
  { collection: GRANTS, key: { 'employee.accountId': 1, state: 1, expiresAt: 1, _id: 1 }, options: { name: 'grants_account_active' } },
  { collection: GRANTS, key: { 'employee.accountId': 1, customerDomain: 1, startedAt: 1, targetUserId: 1 }, options: { name: 'grants_burst' } },
  { collection: ANOMALIES, key: { openedAt: -1, _id: -1 }, options: { name: 'anomalies_listing' } },
  { collection: ANOMALIES, key: { 'employee.accountId': 1, state: 1, openedAt: -1 }, options: { name: 'anomalies_account' } },
  { collection: REPORTS, key: { grantId: 1, accessedAt: 1 }, options: { name: 'access_reports_grant' } },
];

/*
 * Typed rebuilding: every value written or used in a filter is rebuilt from its declared type
 * (String, Number, a new Date), so no caller object ({ $ne: null }) reaches MongoDB as an operator.
 */
const text = (s: string): string => String(s);
const date = (d: Date): Date => new Date(d.getTime());
const nDate = (d: Date | null): Date | null => (d === null ? null : date(d));
const actor = (a: Actor | null): Actor | null => (a === null ? null : { accountId: text(a.accountId), email: text(a.email) });
/** The session of the use case's transaction (writes always have one; a read may stand alone). */
const staff = (s: Staff): Staff => ({ accountId: text(s.accountId), email: text(s.email), displayName: text(s.displayName), roles: s.roles.map(text) });

type GrantDoc = Omit<GrantRecord, 'grantId'> & { _id: string };

function grantDoc(g: GrantRecord): GrantDoc {
  return {
    _id: text(g.grantId),
    employee: staff(g.employee),
    role: text(g.role) as GrantRecord['role'],
    targetUserId: text(g.targetUserId),
    customerDomain: text(g.customerDomain),
    reason: text(g.reason) as GrantRecord['reason'],
    justification: text(g.justification),
    ticketRef: text(g.ticketRef),
    startedAt: date(g.startedAt),
    expiresAt: date(g.expiresAt),
    state: text(g.state) as GrantRecord['state'],
    endedAt: nDate(g.endedAt),
    revokedBy: actor(g.revokedBy),
    revokeReason: g.revokeReason === null ? null : text(g.revokeReason),
    sessionId: text(g.sessionId),
    sourceIp: text(g.sourceIp),
    tokenId: text(g.tokenId),
    expiryReported: g.expiryReported === true,
  };
}
const grantOf = ({ _id, ...rest }: GrantDoc): GrantRecord => ({ ...rest, grantId: _id });

/** Grants on MongoDB: each transition is one single-document conditional update. */
export class MongoGrantRepository implements GrantRepository {
  constructor(private readonly store: MongoStore) {}

  private get col() {
    return this.store.db.collection<GrantDoc>(GRANTS);
  }

  /** The in-process turn of one grant's conditional updates (see inTurn). */
  private turn(grantId: string): string {
    return `${this.store.db.databaseName}/${GRANTS}/${text(grantId)}`;
  }

  async create(tx: Transaction, g: GrantRecord): Promise<void> {
    await insertOrAlreadyExists(() => this.col.insertOne(grantDoc(g), inMongoTx(tx)), 'a grant with this id already exists');
  }

  async get(grantId: string, tx?: Transaction): Promise<GrantRecord | undefined> {
    const d = await this.col.findOne({ _id: { $eq: text(grantId) } }, inMongoTx(tx));
    return d ? grantOf(d) : undefined;
  }

  async close(tx: Transaction, grantId: string, now: Date, to: { state: 'ended' | 'revoked'; revokedBy?: Actor; revokeReason?: string }): Promise<GrantRecord | undefined> {
    const at = date(now);
    const d = await inTurn(this.turn(grantId), () => this.col.findOneAndUpdate(
      { _id: { $eq: text(grantId) }, state: { $eq: 'active' }, expiresAt: { $gt: at } },
      { $set: { state: to.state === 'ended' ? 'ended' : 'revoked', endedAt: at, revokedBy: to.revokedBy ? actor(to.revokedBy) : null, revokeReason: to.revokeReason === undefined ? null : text(to.revokeReason) } },
      { returnDocument: 'after', ...inMongoTx(tx) },
    ));
    return d ? grantOf(d) : undefined;
  }

  async expireDue(tx: Transaction, now: Date, limit: number): Promise<GrantRecord[]> {
    if (emptyPage(limit)) return [];
    const at = date(now);
    const due = await this.col.find({ state: { $eq: 'active' }, expiresAt: { $lte: at } }, inMongoTx(tx)).sort({ expiresAt: 1, _id: 1 }).limit(limit).toArray();
    const out: GrantRecord[] = [];
    for (const g of due) {
      const d = await inTurn(this.turn(g._id), () =>
        this.col.findOneAndUpdate({ _id: { $eq: g._id }, state: { $eq: 'active' }, expiresAt: { $lte: at } }, { $set: { state: 'expired', endedAt: g.expiresAt } }, { returnDocument: 'after', ...inMongoTx(tx) }),
      );
      if (d) out.push(grantOf(d));
    }
    return out;
  }

  async markExpiryReported(tx: Transaction, grantIds: string[]): Promise<void> {
    if (grantIds.length === 0) return;
    await this.col.updateMany({ _id: { $in: grantIds.map(text) } }, { $set: { expiryReported: true } }, inMongoTx(tx));
  }

  async expiryUnreported(before: Date, limit: number, tx?: Transaction): Promise<GrantRecord[]> {
    if (emptyPage(limit)) return [];
    return (await this.col.find({ state: { $eq: 'expired' }, expiryReported: { $eq: false }, expiresAt: { $lt: date(before) } }, inMongoTx(tx)).sort({ expiresAt: 1, _id: 1 }).limit(limit).toArray()).map(grantOf);
  }

  async listActive(filter: { accountId?: string; customerDomain?: string }, now: Date, page: ActivePage, tx?: Transaction): Promise<GrantRecord[]> {
    if (emptyPage(page.limit)) return [];
    const and: Filter<GrantDoc>[] = [{ state: { $eq: 'active' } }, { expiresAt: { $gt: date(now) } }];
    if (filter.accountId !== undefined) and.push({ 'employee.accountId': { $eq: text(filter.accountId) } });
    if (filter.customerDomain !== undefined) and.push({ customerDomain: { $eq: text(filter.customerDomain) } });
    if (page.after) {
      const t = date(page.after.expiresAt);
      and.push({ $or: [{ expiresAt: { $gt: t } }, { expiresAt: { $eq: t }, _id: { $gt: text(page.after.grantId) } }] });
    }
    return (await this.col.find({ $and: and }, inMongoTx(tx)).sort({ expiresAt: 1, _id: 1 }).limit(page.limit).toArray()).map(grantOf);
  }

  countActive(accountId: string, now: Date): Promise<number> {
    return this.col.countDocuments({ 'employee.accountId': { $eq: text(accountId) }, state: { $eq: 'active' }, expiresAt: { $gt: date(now) } });
  }

  async listForDomain(customerDomain: string, range: { from?: Date; to?: Date }, page: NewestPage): Promise<GrantRecord[]> {
    if (emptyPage(page.limit)) return [];
    const and: Filter<GrantDoc>[] = [{ customerDomain: { $eq: text(customerDomain) } }];
    if (range.from) and.push({ startedAt: { $gte: date(range.from) } });
    if (range.to) and.push({ startedAt: { $lt: date(range.to) } });
    if (page.after) {
      const t = date(page.after.at);
      and.push({ $or: [{ startedAt: { $lt: t } }, { startedAt: { $eq: t }, _id: { $lt: text(page.after.id) } }] });
    }
    return (await this.col.find({ $and: and }).sort({ startedAt: -1, _id: -1 }).limit(page.limit).toArray()).map(grantOf);
  }

  async countDistinctTargets(accountId: string, customerDomain: string, since: Date): Promise<number> {
    // Counted here rather than with distinct/aggregate, which the jongodb fallback lacks.
    const docs = await this.col
      .find({ 'employee.accountId': { $eq: text(accountId) }, customerDomain: { $eq: text(customerDomain) }, startedAt: { $gte: date(since) } })
      .toArray();
    return new Set(docs.map((d) => d.targetUserId)).size;
  }
}

type BurstDoc = Omit<BurstWindow, 'accountId' | 'customerDomain'> & { _id: string; accountId: string; customerDomain: string };
const burstKey = (accountId: string, customerDomain: string) => `${text(accountId)}\u0000${text(customerDomain)}`;

/**
 * Compare-and-set on a versioned document: version 1 is an insert (a racing insert loses on
 * `_id`), later versions a replace filtered on the previous version. True if this write won.
 */
async function versionedWrite<D extends { _id: string; version: number }>(store: MongoStore, tx: Transaction, collection: string, doc: D): Promise<boolean> {
  // The document's turn until the unit commits, not only for the update: on jongodb a second
  // transaction's compare-and-set does not see the first one's uncommitted write, so both would win.
  await inTurnUntilCommit(tx, `${store.db.databaseName}/${collection}/${doc._id}`);
  return versionedWriteNow(store, tx, collection, doc);
}

async function versionedWriteNow<D extends { _id: string; version: number }>(store: MongoStore, tx: Transaction, collection: string, doc: D): Promise<boolean> {
  const col = store.db.collection<D>(collection);
  const options = inMongoTx(tx);
  if (doc.version === 1) {
    try {
      await col.insertOne(doc as Parameters<typeof col.insertOne>[0], options);
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }
  const { _id, ...fields } = doc;
  const res = await col.updateOne({ _id: { $eq: _id }, version: { $eq: doc.version - 1 } } as Filter<D>, { $set: fields as Partial<D> }, options);
  return res.modifiedCount === 1;
}

/** The burst windows on MongoDB: one document per (employee, domain), written by compare-and-set. */
export class MongoBurstRepository implements BurstRepository {
  constructor(private readonly store: MongoStore) {}

  async get(accountId: string, customerDomain: string, tx?: Transaction): Promise<BurstWindow | undefined> {
    // Read inside a unit, the window is about to be compare-and-set: take its turn before the
    // read, so another replica's start on it has committed and this read sees its entries.
    if (tx) await inTurnUntilCommit(tx, `${this.store.db.databaseName}/${BURSTS}/${burstKey(accountId, customerDomain)}`);
    const d = await this.store.db.collection<BurstDoc>(BURSTS).findOne({ _id: { $eq: burstKey(accountId, customerDomain) } }, inMongoTx(tx));
    if (!d) return undefined;
    const { _id, ...rest } = d;
    return rest;
  }

  put(tx: Transaction, next: BurstWindow): Promise<boolean> {
    return versionedWrite<BurstDoc>(this.store, tx, BURSTS, {
      _id: burstKey(next.accountId, next.customerDomain),
      accountId: text(next.accountId),
      customerDomain: text(next.customerDomain),
      version: Number(next.version),
      entries: next.entries.map((e) => ({ grantId: text(e.grantId), targetUserId: text(e.targetUserId), startedAt: date(e.startedAt) })),
      blockingAnomalyId: next.blockingAnomalyId === null ? null : text(next.blockingAnomalyId),
    });
  }
}

type AnomalyDoc = Omit<AnomalyRecord, 'anomalyId'> & { _id: string };

function anomalyDoc(a: AnomalyRecord): AnomalyDoc {
  return {
    _id: text(a.anomalyId),
    employee: staff(a.employee),
    customerDomain: text(a.customerDomain),
    rule: { ruleId: text(a.rule.ruleId), distinctTargets: Number(a.rule.distinctTargets), windowMs: Number(a.rule.windowMs) },
    targetUserIds: a.targetUserIds.map(text),
    grantIds: a.grantIds.map(text),
    refusedTargetUserId: text(a.refusedTargetUserId),
    openedAt: date(a.openedAt),
    state: text(a.state) as AnomalyRecord['state'],
    justification: text(a.justification),
    ticketRefs: a.ticketRefs.map(text),
    justifiedAt: nDate(a.justifiedAt),
    resolution: a.resolution === null ? null : (text(a.resolution) as AnomalyRecord['resolution']),
    resolutionNote: text(a.resolutionNote),
    resolvedBy: actor(a.resolvedBy),
    resolvedAt: nDate(a.resolvedAt),
    version: Number(a.version),
  };
}
const anomalyOf = ({ _id, ...rest }: AnomalyDoc): AnomalyRecord => ({ ...rest, anomalyId: _id });

/** Anomalies on MongoDB. */
export class MongoAnomalyRepository implements AnomalyRepository {
  constructor(private readonly store: MongoStore) {}

  private get col() {
    return this.store.db.collection<AnomalyDoc>(ANOMALIES);
  }

  async create(tx: Transaction, a: AnomalyRecord): Promise<void> {
    await insertOrAlreadyExists(() => this.col.insertOne(anomalyDoc(a), inMongoTx(tx)), 'an anomaly with this id already exists');
  }

  async get(anomalyId: string, tx?: Transaction): Promise<AnomalyRecord | undefined> {
    if (tx) await inTurnUntilCommit(tx, `${this.store.db.databaseName}/${ANOMALIES}/${text(anomalyId)}`);
    const d = await this.col.findOne({ _id: { $eq: text(anomalyId) } }, inMongoTx(tx));
    return d ? anomalyOf(d) : undefined;
  }

  update(tx: Transaction, a: AnomalyRecord): Promise<boolean> {
    return versionedWrite<AnomalyDoc>(this.store, tx, ANOMALIES, anomalyDoc(a));
  }

  async list(filter: AnomalyFilter, page: NewestPage): Promise<AnomalyRecord[]> {
    if (emptyPage(page.limit)) return [];
    const and: Filter<AnomalyDoc>[] = [];
    if (filter.accountId !== undefined) and.push({ 'employee.accountId': { $eq: text(filter.accountId) } });
    if (filter.customerDomain !== undefined) and.push({ customerDomain: { $eq: text(filter.customerDomain) } });
    if (filter.states?.length) and.push({ state: { $in: [...new Set(filter.states.map(text))] as AnomalyRecord['state'][] } });
    if (filter.openedFrom) and.push({ openedAt: { $gte: date(filter.openedFrom) } });
    if (filter.openedTo) and.push({ openedAt: { $lt: date(filter.openedTo) } });
    if (page.after) {
      const t = date(page.after.at);
      and.push({ $or: [{ openedAt: { $lt: t } }, { openedAt: { $eq: t }, _id: { $lt: text(page.after.id) } }] });
    }
    return (await this.col.find(and.length ? { $and: and } : {}).sort({ openedAt: -1, _id: -1 }).limit(page.limit).toArray()).map(anomalyOf);
  }
}

type LockDoc = Omit<LockRecord, 'accountId'> & { _id: string };

/** Impersonation locks on MongoDB. */
export class MongoLockRepository implements LockRepository {
  constructor(private readonly store: MongoStore) {}

  async get(accountId: string, tx?: Transaction): Promise<LockRecord | undefined> {
    if (tx) await inTurnUntilCommit(tx, `${this.store.db.databaseName}/${LOCKS}/${text(accountId)}`);
    const d = await this.store.db.collection<LockDoc>(LOCKS).findOne({ _id: { $eq: text(accountId) } }, inMongoTx(tx));
    if (!d) return undefined;
    const { _id, ...rest } = d;
    return { ...rest, accountId: _id };
  }

  put(tx: Transaction, l: LockRecord): Promise<boolean> {
    return versionedWrite<LockDoc>(this.store, tx, LOCKS, {
      _id: text(l.accountId),
      locked: l.locked === true,
      lockedAt: nDate(l.lockedAt),
      anomalyId: l.anomalyId === null ? null : text(l.anomalyId),
      unlockedAt: nDate(l.unlockedAt),
      unlockedBy: actor(l.unlockedBy),
      version: Number(l.version),
    });
  }
}

type ReportDoc = Omit<AccessReport, 'reportId'> & { _id: string };
const records = (rs: AccessedRecords[]): AccessedRecords[] =>
  rs.map((r) => ({ resourceType: text(r.resourceType), operation: text(r.operation) as AccessedRecords['operation'], count: Number(r.count), recordIds: r.recordIds.map(text) }));
const reportOf = ({ _id, ...rest }: ReportDoc): AccessReport => ({ ...rest, reportId: _id });

/** Access reports on MongoDB: the report id is `_id`, so a retried report is stored once. */
export class MongoAccessRepository implements AccessRepository {
  constructor(private readonly store: MongoStore) {}

  private get col() {
    return this.store.db.collection<ReportDoc>(REPORTS);
  }

  async add(tx: Transaction, r: AccessReport): Promise<{ stored: AccessReport; duplicate: boolean }> {
    const doc: ReportDoc = {
      _id: text(r.reportId),
      grantId: text(r.grantId),
      customerDomain: text(r.customerDomain),
      records: records(r.records),
      accessedAt: date(r.accessedAt),
      recordedAt: date(r.recordedAt),
      reportedBy: text(r.reportedBy),
    };
    // Read first: inside a transaction a failed insert aborts the whole transaction. A report of
    // the same id committed after this transaction's snapshot makes the insert fail with
    // AlreadyExistsError, and the use case runs its unit again (which then reads it here).
    const existing = await this.col.findOne({ _id: { $eq: doc._id } }, inMongoTx(tx));
    if (existing) return { stored: reportOf(existing), duplicate: true };
    await insertOrAlreadyExists(() => this.col.insertOne(doc, inMongoTx(tx)), 'an access report with this id already exists');
    return { stored: reportOf(doc), duplicate: false };
  }

  async forGrants(grantIds: string[]): Promise<AccessReport[]> {
    if (grantIds.length === 0) return [];
    return (await this.col.find({ grantId: { $in: [...new Set(grantIds.map(text))] } }).sort({ accessedAt: 1 }).toArray()).map(reportOf);
  }
}
