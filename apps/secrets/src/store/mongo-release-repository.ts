import type { Transaction } from '@gatehouse/core';
import { inMongoTx, inTurnUntilCommit, insertOrAlreadyExists, type MongoIndexSpec, type MongoStore } from '@gatehouse/storage';
import type { Filter } from 'mongodb';
import type { Environment, ReleaseFilter, ReleaseRecord, ReleaseRepository, ReleaseState } from '../domain/model.js';
import { actor, date, emptyPage, nullableActor, nullableDate, nullableText, text } from './typed-values.js';

const RELEASES = 'releases';

interface ReleaseDoc extends Omit<ReleaseRecord, 'releaseId'> {
  _id: string;
}

/** One release per token (the unique hash), the listing order (all, and one app's), the expiry scan. */
export const releaseMongoIndexes: MongoIndexSpec[] = [
  { collection: RELEASES, key: { tokenHash: 1 }, options: { name: 'releases_token_hash', unique: true } },
  { collection: RELEASES, key: { createdAt: -1, _id: -1 }, options: { name: 'releases_listing' } },
  { collection: RELEASES, key: { environment: 1, app: 1, createdAt: -1, _id: -1 }, options: { name: 'releases_app_listing' } },
  { collection: RELEASES, key: { state: 1, expiresAt: 1 }, options: { name: 'releases_expiry' } },
];

const toRecord = ({ _id, ...rest }: ReleaseDoc): ReleaseRecord => ({ ...rest, releaseId: _id });

/** The document of a release, built from typed values only (no caller object reaches the store). */
function toDoc(r: ReleaseRecord): ReleaseDoc {
  return {
    _id: text(r.releaseId),
    tokenHash: text(r.tokenHash),
    environment: text(r.environment) as Environment,
    app: text(r.app),
    deploymentRef: text(r.deploymentRef),
    state: text(r.state) as ReleaseState,
    createdBy: actor(r.createdBy),
    createdAt: date(r.createdAt),
    expiresAt: date(r.expiresAt),
    boundCidr: nullableText(r.boundCidr),
    boundClientIdentity: nullableText(r.boundClientIdentity),
    requiredApprovals: Number(r.requiredApprovals),
    approvals: r.approvals.map((a) => ({ approver: actor(a.approver), approvedAt: date(a.approvedAt), note: text(a.note) })),
    secrets: r.secrets.map((s) => ({ name: text(s.name), version: Number(s.version) })),
    redeemedAt: nullableDate(r.redeemedAt),
    redeemedByIdentity: nullableText(r.redeemedByIdentity),
    redeemedFromIp: nullableText(r.redeemedFromIp),
    refusedRedemptionCount: Number(r.refusedRedemptionCount),
    revokedAt: nullableDate(r.revokedAt),
    revokedBy: nullableActor(r.revokedBy),
    revokeReason: nullableText(r.revokeReason),
    expiryReported: r.expiryReported === true,
    version: Number(r.version),
  };
}

const EXPIRING: ReleaseState[] = ['pending_approval', 'ready'];

/**
 * Releases on MongoDB. Every transition is one single-document compare-and-set: the redemption's
 * filter is the whole condition (this token, READY, not yet expired) and returns the document it
 * wrote, so exactly one of any number of concurrent callers gets it. The refusal count is only
 * ever incremented ($inc), and update() leaves it alone (see the SQLite adapter). Writes run in
 * the caller's unit of work (a multi-document transaction carrying the use case's audit events);
 * each takes its document's turn in this process until that transaction ends (inTurnUntilCommit:
 * jongodb does not detect write conflicts between transactions): by token for the redemption, by
 * id for the refusal count, both for update().
 */
export class MongoReleaseRepository implements ReleaseRepository {
  constructor(private readonly store: MongoStore) {}

  /** This transaction's turn on a release, by id and/or token (always in that order, so two units never wait on each other). */
  private async turn(tx: Transaction, of: { releaseId?: string; tokenHash?: string }): Promise<void> {
    const db = this.store.db.databaseName;
    if (of.releaseId !== undefined) await inTurnUntilCommit(tx, `${db}/release/${String(of.releaseId)}`);
    if (of.tokenHash !== undefined) await inTurnUntilCommit(tx, `${db}/release-token/${String(of.tokenHash)}`);
  }

  private get col() {
    return this.store.db.collection<ReleaseDoc>(RELEASES);
  }

  async create(tx: Transaction, r: ReleaseRecord): Promise<void> {
    await this.turn(tx, { releaseId: r.releaseId, tokenHash: r.tokenHash });
    await insertOrAlreadyExists(() => this.col.insertOne(toDoc(r), inMongoTx(tx)), 'a release with this id or token already exists');
  }

  async get(releaseId: string, tx?: Transaction): Promise<ReleaseRecord | undefined> {
    const d = await this.col.findOne({ _id: { $eq: String(releaseId) } }, inMongoTx(tx));
    return d ? toRecord(d) : undefined;
  }

  async byTokenHash(tokenHash: string, tx?: Transaction): Promise<ReleaseRecord | undefined> {
    const d = await this.col.findOne({ tokenHash: { $eq: String(tokenHash) } }, inMongoTx(tx));
    return d ? toRecord(d) : undefined;
  }

  async redeem(tx: Transaction, tokenHash: string, now: Date, by: { identity: string; ip: string }): Promise<ReleaseRecord | undefined> {
    const at = date(now);
    await this.turn(tx, { tokenHash });
    const d = await this.col.findOneAndUpdate(
      { tokenHash: { $eq: String(tokenHash) }, state: { $eq: 'ready' }, expiresAt: { $gt: at } },
      { $set: { state: 'redeemed', redeemedAt: at, redeemedByIdentity: text(by.identity), redeemedFromIp: text(by.ip) }, $inc: { version: 1 } },
      { returnDocument: 'after', ...inMongoTx(tx) },
    );
    return d ? toRecord(d) : undefined;
  }

  async update(tx: Transaction, r: ReleaseRecord): Promise<boolean> {
    const { _id, refusedRedemptionCount: _count, ...fields } = toDoc(r);
    await this.turn(tx, { releaseId: _id, tokenHash: fields.tokenHash });
    const res = await this.col.updateOne({ _id: { $eq: _id }, version: { $eq: Number(r.version) - 1 } }, { $set: fields }, inMongoTx(tx));
    return res.modifiedCount === 1;
  }

  async countRefusal(tx: Transaction, releaseId: string): Promise<void> {
    await this.turn(tx, { releaseId });
    await this.col.updateOne({ _id: { $eq: String(releaseId) } }, { $inc: { refusedRedemptionCount: 1 } }, inMongoTx(tx));
  }

  async list(
    filter: ReleaseFilter,
    page: { after?: { createdAt: Date; releaseId: string } | undefined; limit: number },
  ): Promise<ReleaseRecord[]> {
    if (emptyPage(page.limit)) return [];
    const and: Filter<ReleaseDoc>[] = [];
    if (filter.environment !== undefined) and.push({ environment: { $eq: String(filter.environment) as Environment } });
    if (filter.app !== undefined) and.push({ app: { $eq: String(filter.app) } });
    if (filter.deploymentRef !== undefined) and.push({ deploymentRef: { $eq: String(filter.deploymentRef) } });
    if (filter.createdFrom !== undefined) and.push({ createdAt: { $gte: date(filter.createdFrom) } });
    if (filter.createdTo !== undefined) and.push({ createdAt: { $lt: date(filter.createdTo) } });
    if (filter.states?.length) and.push({ state: { $in: [...new Set(filter.states)].map(String) as ReleaseState[] } });
    if (page.after) {
      const t = date(page.after.createdAt);
      and.push({ $or: [{ createdAt: { $lt: t } }, { createdAt: { $eq: t }, _id: { $lt: String(page.after.releaseId) } }] });
    }
    const docs = await this.col
      .find(and.length ? { $and: and } : {})
      .sort({ createdAt: -1, _id: -1 })
      .limit(page.limit)
      .toArray();
    return docs.map(toRecord);
  }

  async dueForExpiry(now: Date, limit: number): Promise<ReleaseRecord[]> {
    if (emptyPage(limit)) return [];
    const docs = await this.col
      .find({ $or: [{ state: { $in: EXPIRING }, expiresAt: { $lte: date(now) } }, { state: { $eq: 'expired' }, expiryReported: { $eq: false } }] })
      .sort({ expiresAt: 1, _id: 1 })
      .limit(limit)
      .toArray();
    return docs.map(toRecord);
  }
}
