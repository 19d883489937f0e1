import type { Transaction } from '@gatehouse/core';
import type { ClientSession } from 'mongodb';
import { mongoSession } from './mongo-store.js';
import { Mutex } from './mutex.js';

const locks = new Map<string, { mutex: Mutex; users: number }>();
const heldBy = new WeakMap<ClientSession, Map<string, () => void>>();

/**
 * Queues, in this process, every MongoDB transaction that names `key` behind the one holding it
 * until that one's session ends (committed or aborted): inTurn for a whole unit of work. Call it
 * before the transaction's first operation on the document(s) `key` stands for; a retry of the
 * same transaction keeps its turn.
 *
 * Why: a real replica set detects a write conflict between concurrent transactions (the loser is
 * retried and then sees the winner's commit), but jongodb, the tests' fallback server, does not:
 * two transactions could both pass one compare-and-set, or both insert under one unique key.
 * Across processes the server's own conflict detection is what counts.
 */
export async function inTurnUntilCommit(tx: Transaction, key: string): Promise<void> {
  const session = mongoSession(tx);
  let held = heldBy.get(session);
  if (held?.has(key)) return;
  let entry = locks.get(key);
  if (!entry) locks.set(key, (entry = { mutex: new Mutex(), users: 0 }));
  entry.users += 1;
  const release = await entry.mutex.lock();
  if (!held) {
    const mine = new Map<string, () => void>();
    heldBy.set(session, mine);
    session.once('ended', () => {
      heldBy.delete(session);
      for (const unlock of mine.values()) unlock();
    });
    held = mine;
  }
  const turn = entry;
  held.set(key, () => {
    release();
    turn.users -= 1;
    if (turn.users === 0 && locks.get(key) === turn) locks.delete(key);
  });
}
