import type { Transaction } from '@gatehouse/core';
import type { ClientSession, Collection } from 'mongodb';
import { TurnTimeoutError, isDuplicateKey } from './errors.js';
import { afterUnit, mongoSession, mongoTxDb } from './mongo-store.js';
import { Mutex } from './mutex.js';

/**
 * The collection of cross-process document turns, one document per key: a ticket queue
 * `{ _id: key, next, serving, until }`. A unit takes ticket `next` and goes when `serving`
 * reaches it; `until` is the lease of the ticket being served.
 */
export const TURNS_COLLECTION = '_turns';

/** How long a served ticket stays valid without renewal: a crashed holder blocks its document this long at most. */
const LEASE_MS = 3_000;
/** How often a live holder renews its turn. */
const RENEW_MS = 1_000;
/** How long a unit waits for its turn before it fails as UNAVAILABLE. */
const WAIT_MS = 15_000;

interface TurnDoc {
  _id: string;
  next: number;
  serving: number;
  until: number;
}

const locks = new Map<string, { mutex: Mutex; users: number }>();
const heldBy = new WeakMap<ClientSession, Set<string>>();

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Takes a ticket for `key`, retrying the one race a first upsert of the key can lose. */
async function ticket(col: Collection<TurnDoc>, key: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      // A new key's first ticket is served at once, with a full lease: an `until` of 0 would let
      // the next ticket's owner skip it as abandoned before its owner has even looked.
      const before = await col.findOneAndUpdate({ _id: key }, { $inc: { next: 1 }, $setOnInsert: { serving: 0, until: Date.now() + LEASE_MS } }, { upsert: true, returnDocument: 'before' });
      return before?.next ?? 0;
    } catch (err) {
      if (!isDuplicateKey(err) || attempt >= 3) throw err;
    }
  }
}

/**
 * Waits (bounded) until `key`'s queue serves this process's ticket, and returns its release.
 * A queue, not a free-for-all lease: with a lease, the replica that just released re-takes it
 * before the other replica's next poll, and starves it. Every step is a single-document atomic
 * operation, which every server (jongodb included) gets right.
 */
async function lease(col: Collection<TurnDoc>, key: string): Promise<() => Promise<void>> {
  let mine = await ticket(col, key);
  const deadline = Date.now() + WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    const doc = await col.findOne({ _id: key });
    const now = Date.now();
    if (doc && doc.serving > mine) {
      // Skipped as abandoned while this process was slow to look (a stalled event loop): queue again.
      mine = await ticket(col, key);
      continue;
    }
    if (doc && doc.serving === mine) {
      await col.updateOne({ _id: key, serving: mine }, { $set: { until: now + LEASE_MS } });
      break;
    }
    if (doc && doc.serving < mine && doc.until < now) {
      // The ticket being served is abandoned (its process died, or gave up waiting): skip it.
      await col.updateOne({ _id: key, serving: doc.serving, until: doc.until }, { $inc: { serving: 1 }, $set: { until: now + LEASE_MS } });
      continue;
    }
    if (now > deadline) throw new TurnTimeoutError(`a document's turn was held by another process for over ${WAIT_MS} ms`);
    await sleep(Math.min(1 + attempt, 10) * (0.5 + Math.random()));
  }
  const renew = setInterval(() => {
    void col.updateOne({ _id: key, serving: mine }, { $set: { until: Date.now() + LEASE_MS } }).catch(() => undefined);
  }, RENEW_MS);
  renew.unref();
  return async () => {
    clearInterval(renew);
    // The next ticket gets a fresh lease to notice that it is served.
    await col.updateOne({ _id: key, serving: mine }, { $inc: { serving: 1 }, $set: { until: Date.now() + LEASE_MS } }).catch(() => undefined);
  };
}

/**
 * Queues every MongoDB transaction that names `key` behind the one holding it until that one's
 * session ends (committed or aborted): inTurn for a whole unit of work, in this process (a
 * mutex) and across processes (a ticket queue in `_turns`, first come first served, whose
 * served ticket is a lease renewed while held and skipped within 3 s of a crashed holder).
 * Call it before the transaction's first operation on the document(s) `key` stands for; a
 * retry of the same transaction keeps its turn.
 *
 * Limits on jongodb, measured: concurrent findOneAndUpdate calls can return the same "before"
 * document (137 of 200 rounds of 6 parallel $inc), and a commit is not always visible to the
 * next transaction at once, so there the turn narrows the races but cannot rule them out. On a
 * replica set both are atomic, and the server's conflict detection decides in any case.
 *
 * Why: a real replica set detects a write conflict between concurrent transactions (the loser is
 * retried and then sees the winner's commit), but jongodb, the tests' server, does not: two
 * transactions, even from two replicas, could both pass one compare-and-set, and a refused commit
 * can leave part of its writes behind. The turn makes one replica's unit on a document wait
 * until the other's has committed, so the guarantee does not rest on the server alone; on a
 * replica set it costs three or four single-document operations and changes no outcome.
 */
export async function inTurnUntilCommit(tx: Transaction, key: string): Promise<void> {
  const session = mongoSession(tx);
  const turns = mongoTxDb(tx).collection<TurnDoc>(TURNS_COLLECTION);
  let held = heldBy.get(session);
  if (held?.has(key)) return;
  let entry = locks.get(key);
  if (!entry) locks.set(key, (entry = { mutex: new Mutex(), users: 0 }));
  entry.users += 1;
  const unlock = await entry.mutex.lock();
  const turn = entry;
  const releaseHere = () => {
    unlock();
    turn.users -= 1;
    if (turn.users === 0 && locks.get(key) === turn) locks.delete(key);
  };
  let releaseThere: () => Promise<void>;
  try {
    releaseThere = await lease(turns, key);
  } catch (err) {
    releaseHere();
    throw err;
  }
  if (!held) heldBy.set(session, (held = new Set()));
  held.add(key);
  // The other processes' turn is given back first, then this process's next unit goes.
  afterUnit(tx, () => releaseThere().finally(releaseHere));
}
