import type { Transaction } from '@gatehouse/core';
import { inTurnUntilCommit, mongoSession, type MongoStore } from '@gatehouse/storage';
import type { ClientSession } from 'mongodb';

/**
 * The driver options that run a call inside the caller's unit of work (issue 14): `{ session }`
 * of its transaction, or none for a read outside any unit.
 */
export function inTx(tx: Transaction | undefined): { session?: ClientSession } {
  return tx ? { session: mongoSession(tx) } : {};
}

/**
 * Takes the document's turn in this process until the unit's transaction ends, before its
 * compare-and-set: a real replica set detects the write conflict of two transactions, jongodb
 * (the tests' server) does not, and two units could both win one compare-and-set.
 */
export function docTurn(tx: Transaction, store: MongoStore, collection: string, ...id: string[]): Promise<void> {
  return inTurnUntilCommit(tx, `${store.db.databaseName}/${collection}/${id.map(String).join('/')}`);
}
