// A second process for mongo-turns.test.ts: `units` concurrent units of work on one MongoDB
// database, each a read-modify-write of one counter document taken in turn (inTurnUntilCommit)
// plus one log row. Prints {"committed":n,"failed":[...]} on stdout.
import { setTimeout as sleep } from 'node:timers/promises';
import { inTurnUntilCommit, mongoSession, openMongo } from '@gatehouse/storage';

const [url, dbName, unitsText, label] = process.argv.slice(2) as [string, string, string, string];
const store = await openMongo({ url, dbName, migrations: [], indexes: [] });
const db = store.db;
let committed = 0;
const failed: string[] = [];
await Promise.all(
  Array.from({ length: Number(unitsText) }, (_, i) =>
    store
      .run(async (tx) => {
        const session = mongoSession(tx);
        await inTurnUntilCommit(tx, `${dbName}/counter/c`);
        const doc = await db.collection<{ _id: string; v: number }>('counter').findOne({ _id: 'c' }, { session });
        const v = doc?.v ?? 0;
        await sleep(Math.random() * 3);
        const moved = await db.collection<{ _id: string; v: number }>('counter').updateOne({ _id: 'c', v }, { $set: { v: v + 1 } }, { session });
        if (moved.modifiedCount !== 1) throw new Error(`compare-and-set from ${v} lost`);
        await db.collection('log').insertOne({ by: `${label}-${i}`, from: v }, { session });
      })
      .then(
        () => void committed++,
        (err: unknown) => void failed.push(String((err as Error).message)),
      ),
  ),
);
await store.close();
process.stdout.write(JSON.stringify({ committed, failed }));
