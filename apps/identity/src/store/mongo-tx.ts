import type { Transaction } from '@gatehouse/core';
import { inTurnUntilCommit, type MongoStore } from '@gatehouse/storage';

/**
 * Takes the document's turn in this process until the unit's transaction ends, before its
 * compare-and-set: a real replica set detects the write conflict of two transactions, jongodb
 * (the tests' server) does not, and two units could both win one compare-and-set.
 */
export function docTurn(tx: Transaction, store: MongoStore, collection: string, ...id: string[]): Promise<void> {
  return inTurnUntilCommit(tx, `${store.db.databaseName}/${collection}/${id.map(String).join('/')}`);
}
