// inTurnUntilCommit across processes (issue 15 item 6): two processes' units of work on one
// document run one after the other on any server, jongodb included (which detects no write
// conflict between transactions), and a crashed holder's turn expires. It lives here, not in
// libs/storage, because only this lib can find a MongoDB.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { inTurnUntilCommit, mongoSession, openMongo, type MongoStore } from '@gatehouse/storage';
import { findMongo, skipReason, uniqueDbName } from './index.js';

const run = promisify(execFile);
const worker = fileURLToPath(new URL('./test-fixtures/turn-worker.ts', import.meta.url));

describe('document turns across processes (MongoDB)', () => {
  let url: string | undefined;
  let skipped: string | undefined;
  let store: MongoStore | undefined;
  const dbName = uniqueDbName('turns');
  before(async () => {
    const mongo = await findMongo();
    if ('skipped' in mongo) skipped = mongo.skipped;
    else {
      url = mongo.url;
      store = await openMongo({ url, dbName, migrations: [], indexes: [] });
    }
  });
  after(() => store?.close());

  test('40 units in each of two processes on one document: every one commits, none loses an update', async (t) => {
    if (!url || !store) return t.skip(skipReason(skipped));
    const units = 40;
    await store.db.collection<{ _id: string; v: number }>('counter').insertOne({ _id: 'c', v: 0 });
    const outs = await Promise.all(
      ['a', 'b'].map((label) => run(process.execPath, ['--import', 'tsx', worker, url!, dbName, String(units), label], { timeout: 120_000 })),
    );
    const results = outs.map((o) => JSON.parse(o.stdout) as { committed: number; failed: string[] });
    assert.deepEqual(results.map((r) => r.failed), [[], []], 'no unit failed');
    assert.deepEqual(results.map((r) => r.committed), [units, units]);
    const counter = await store.db.collection<{ _id: string; v: number }>('counter').findOne({ _id: 'c' });
    assert.equal(counter?.v, 2 * units, 'each committed unit moved the counter once: no lost update');
    const froms = (await store.db.collection<{ from: number }>('log').find().toArray()).map((d) => d.from).sort((x, y) => x - y);
    assert.deepEqual(froms, Array.from({ length: 2 * units }, (_, i) => i), 'each value was moved on from exactly once');
    const turn = await store.db.collection<{ _id: string; next: number; serving: number }>('_turns').findOne({ _id: `${dbName}/counter/c` });
    assert.equal(turn?.next, 2 * units, 'one ticket per unit');
    assert.equal(turn?.serving, turn?.next, 'the turn is free once every unit has ended');
  });

  test("a crashed holder's turn expires: the next unit waits for its lease, then goes", async (t) => {
    if (!url || !store) return t.skip(skipReason(skipped));
    const key = `${dbName}/counter/crashed`;
    // What a process killed while holding the turn leaves: ticket 0 served, never renewed or freed.
    await store.db.collection<{ _id: string; next: number; serving: number; until: number }>('_turns').insertOne({ _id: key, next: 1, serving: 0, until: Date.now() + 2_000 });
    const started = Date.now();
    await store.run(async (tx) => {
      await inTurnUntilCommit(tx, key);
      await store!.db.collection('log2').insertOne({ at: Date.now() }, { session: mongoSession(tx) });
    });
    const waited = Date.now() - started;
    assert.ok(waited >= 1_500, `it waited for the lease (${waited} ms)`);
    assert.ok(waited < 6_000, `and not much longer than it (${waited} ms)`);
    assert.equal(await store.db.collection('log2').countDocuments(), 1);
  });
});
