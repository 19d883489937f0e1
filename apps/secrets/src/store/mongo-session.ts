import type { Transaction } from '@gatehouse/core';
import { mongoSession } from '@gatehouse/storage';
import type { ClientSession } from 'mongodb';

/** The driver options that run an operation in `tx` (a use case's unit of work), or on its own without one. */
export function inTx(tx: Transaction | undefined): { session?: ClientSession } {
  return tx ? { session: mongoSession(tx) } : {};
}
