import type { Transaction } from '@gatehouse/core';
import { inMongoTx, type MongoIndexSpec, type MongoStore } from '@gatehouse/storage';
import { docTurn } from './mongo-tx.js';
import type { RoleChange, RoleChangeRepository, RoleChangeState } from '../domain/accounts/role-change.js';

const ROLE_CHANGES = 'role_changes';

interface RoleChangeDoc extends Omit<RoleChange, 'changeId'> {
  _id: string;
}

/** The listing order per state. */
export const roleChangeMongoIndexes: MongoIndexSpec[] = [{ collection: ROLE_CHANGES, key: { state: 1, requestedAt: -1, _id: -1 }, options: { name: 'role_changes_state' } }];

function toChange(d: RoleChangeDoc): RoleChange {
  const { _id, ...rest } = d;
  const c: RoleChange = { ...rest, changeId: _id };
  for (const [k, v] of Object.entries(c)) if (v === null || v === undefined) delete (c as unknown as Record<string, unknown>)[k];
  return c;
}

function toDoc(c: RoleChange): RoleChangeDoc {
  const { changeId, ...rest } = c;
  const d = { ...rest, _id: changeId } as RoleChangeDoc;
  for (const [k, v] of Object.entries(d)) if (v === undefined) delete (d as unknown as Record<string, unknown>)[k];
  return d;
}

/**
 * Role changes on MongoDB. decide() is a single-document replace conditioned on state and
 * version, taking the document's turn until the unit commits (docTurn) as the other conditional updates do.
 */
export class MongoRoleChangeRepository implements RoleChangeRepository {
  constructor(private readonly store: MongoStore) {}

  private get col() {
    return this.store.db.collection<RoleChangeDoc>(ROLE_CHANGES);
  }

  async create(tx: Transaction, c: RoleChange): Promise<void> {
    await this.col.insertOne(toDoc(c), inMongoTx(tx));
  }

  async byId(changeId: string, tx?: Transaction): Promise<RoleChange | undefined> {
    const d = await this.col.findOne({ _id: { $eq: String(changeId) } }, inMongoTx(tx));
    return d ? toChange(d) : undefined;
  }

  async list(states: readonly RoleChangeState[], limit: number, tx?: Transaction): Promise<RoleChange[]> {
    if (states.length === 0) return [];
    const docs = await this.col
      .find({ state: { $in: states.map(String) as RoleChangeState[] } }, inMongoTx(tx))
      .sort({ requestedAt: -1, _id: -1 })
      .limit(limit)
      .toArray();
    return docs.map(toChange);
  }

  async decide(tx: Transaction, next: RoleChange, expected: RoleChangeState = 'pending'): Promise<boolean> {
    await docTurn(tx, this.store, ROLE_CHANGES, next.changeId);
    const r = await this.col.replaceOne({ _id: { $eq: String(next.changeId) }, state: { $eq: expected }, version: { $eq: next.version - 1 } }, toDoc(next), inMongoTx(tx));
    return r.modifiedCount === 1;
  }
}
