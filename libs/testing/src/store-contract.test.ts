// The UnitOfWork contract of @gatehouse/storage's two stores, run through the harness. It lives
// here rather than in libs/storage because only this lib can find a MongoDB (storage is a kit
// and may not depend on the testing lib).
import assert from 'node:assert/strict';
import path from 'node:path';
import { DeadlineExceededError, type Transaction } from '@gatehouse/core';
import {
  DuplicateKeyError,
  MigrationError,
  TransactionMisuseError,
  mongoSession,
  openMongo,
  openSqlite,
  sqliteTx,
  type MongoIndexSpec,
  type MongoMigration,
  type MongoStore,
  type SqliteMigration,
  type SqliteStore,
} from '@gatehouse/storage';
import { describeRepositoryContract } from './index.js';

/** A minimal repository: items with a unique code. */
interface Items {
  insert(tx: Transaction | undefined, code: string): Promise<void>;
  codes(): Promise<string[]>;
  migrationIds(): Promise<string[]>;
  /** Read-modify-write of one counter row/document (deliberately not an atomic $inc). */
  bump(tx: Transaction): Promise<void>;
  counter(): Promise<number>;
}

const sqliteMigrations: SqliteMigration[] = [
  {
    id: 'items/0001',
    up: (db) =>
      db.exec(`CREATE TABLE item (seq INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT NOT NULL UNIQUE) STRICT;
               CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL) STRICT;
               INSERT INTO counter VALUES (1, 0);`),
  },
];
const mongoMigrations: MongoMigration[] = [
  { id: 'items/0001', up: async (db) => void (await db.collection<{ _id: string }>('item_meta').updateOne({ _id: 'v' }, { $set: { v: 1 } }, { upsert: true })) },
];
const mongoIndexes: MongoIndexSpec[] = [{ collection: 'item', key: { code: 1 }, options: { name: 'item_code_unique', unique: true } }];

const sqliteItems = (store: SqliteStore): Items => ({
  insert: (tx, code) => store.exec(tx, (db) => void db.prepare('INSERT INTO item (code) VALUES (?)').run(code)),
  codes: () => store.exec(undefined, (db) => db.prepare('SELECT code FROM item ORDER BY seq').pluck().all() as string[]),
  migrationIds: () => store.exec(undefined, (db) => db.prepare('SELECT id FROM schema_migrations').pluck().all() as string[]),
  bump: async (tx) => {
    const value = await store.exec(tx, (db) => db.prepare('SELECT value FROM counter WHERE id = 1').pluck().get() as number);
    await sleep(1);
    await store.exec(tx, (db) => db.prepare('UPDATE counter SET value = ? WHERE id = 1').run(value + 1));
  },
  counter: () => store.exec(undefined, (db) => db.prepare('SELECT value FROM counter WHERE id = 1').pluck().get() as number),
});
const mongoItems = (store: MongoStore): Items => ({
  insert: (tx, code) => store.exec(tx, async (db, session) => void (await db.collection('item').insertOne({ code, at: new Date() }, { session }))),
  codes: () =>
    store.exec(undefined, async (db) =>
      (await db.collection<{ code: string; at: Date }>('item').find({}).sort({ at: 1, _id: 1 }).maxTimeMS(store.maxTimeMS()).toArray()).map((d) => d.code),
    ),
  migrationIds: () =>
    store.exec(undefined, async (db) => (await db.collection<{ _id: string }>('schema_migrations').find({}).toArray()).map((d) => d._id)),
  bump: (tx) =>
    store.exec(tx, async (db, session) => {
      const counters = db.collection<{ _id: string; value: number }>('counter');
      const value = (await counters.findOne({ _id: 'c' }, { session }))?.value ?? 0;
      await sleep(1);
      await counters.updateOne({ _id: 'c' }, { $set: { value: value + 1 } }, { upsert: true, session });
    }),
  counter: () => store.exec(undefined, async (db) => (await db.collection<{ _id: string; value: number }>('counter').findOne({ _id: 'c' }))?.value ?? 0),
});

type Ctx = { kind: 'sqlite'; store: SqliteStore; items: Items } | { kind: 'mongodb'; store: MongoStore; items: Items };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeRepositoryContract<Ctx>(
  'store',
  {
    sqlite: async (dir) => {
      const store = openSqlite({ file: path.join(dir, 'store.db'), migrations: sqliteMigrations });
      return { kind: 'sqlite', store, items: sqliteItems(store) };
    },
    mongodb: async (url, dbName) => {
      const store = await openMongo({ url, dbName, migrations: mongoMigrations, indexes: mongoIndexes, defaultMaxTimeMS: 5_000 });
      return { kind: 'mongodb', store, items: mongoItems(store) };
    },
    close: (ctx) => ctx.store.close(),
  },
  (backend) => {
    backend.test('run() commits what fn wrote and returns its result', async ({ store, items }) => {
      const result = await store.run(async (tx) => {
        await items.insert(tx, 'a');
        await items.insert(tx, 'b');
        return 42;
      });
      assert.equal(result, 42);
      assert.deepEqual(await items.codes(), ['a', 'b']);
    });

    backend.test('run() rolls back everything when fn throws and re-throws the same error', async ({ store, items }) => {
      await items.insert(undefined, 'kept');
      const boom = new Error('boom');
      await assert.rejects(
        store.run(async (tx) => {
          await items.insert(tx, 'lost-1');
          await items.insert(tx, 'lost-2');
          throw boom;
        }),
        (err) => err === boom,
      );
      assert.deepEqual(await items.codes(), ['kept']);
    });

    backend.test('a reader outside the transaction never sees its uncommitted writes', async ({ store, items }) => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let committed = false;
      const writer = store
        .run(async (tx) => {
          await items.insert(tx, 'pending');
          await gate;
        })
        .then(() => (committed = true));
      await sleep(20);
      const reader = items.codes().then((codes) => ({ codes, committedBefore: committed }));
      await sleep(20);
      release();
      await writer;
      const seen = await reader;
      // SQLite makes the reader wait for the commit; MongoDB answers from the last committed state.
      assert.deepEqual(seen.codes, seen.committedBefore ? ['pending'] : []);
    });

    backend.test('duplicate keys surface as DuplicateKeyError, and the transaction rolls back', async ({ store, items }) => {
      await items.insert(undefined, 'dup');
      await assert.rejects(items.insert(undefined, 'dup'), DuplicateKeyError);
      await assert.rejects(
        store.run(async (tx) => {
          await items.insert(tx, 'other');
          await items.insert(tx, 'dup');
        }),
        DuplicateKeyError,
      );
      assert.deepEqual(await items.codes(), ['dup']);
    });

    backend.test('nested run() and tx-less exec() inside run() fail fast instead of deadlocking', async ({ store, items }) => {
      await store.run(async (tx) => {
        await assert.rejects(store.run(async () => undefined), TransactionMisuseError);
        await assert.rejects(items.insert(undefined, 'x'), TransactionMisuseError);
        await items.insert(tx, 'y');
      });
      assert.deepEqual(await items.codes(), ['y']);
    });

    backend.test('a finished or foreign transaction is refused', async (ctx) => {
      let leaked: Transaction | undefined;
      await ctx.store.run(async (tx) => {
        leaked = tx;
        if (ctx.kind === 'sqlite') {
          assert.throws(() => mongoSession(tx), /expected a MongoDB transaction, got a transaction with backend "sqlite"/);
          assert.ok(sqliteTx(tx));
        } else {
          assert.throws(() => sqliteTx(tx), /expected a SQLite transaction, got a transaction with backend "mongodb"/);
          assert.ok(mongoSession(tx));
        }
      });
      await assert.rejects(ctx.items.insert(leaked, 'late'), /already finished/);
      await assert.rejects(ctx.items.insert({ backend: ctx.kind }, 'forged'), TransactionMisuseError);
      assert.deepEqual(await ctx.items.codes(), []);
    });

    backend.test('migrations are applied once however often the store opens, and data survives', async ({ items }, env) => {
      await items.insert(undefined, 'before');
      const again = await env.reopen();
      const third = await env.reopen();
      assert.deepEqual(await third.items.migrationIds(), ['items/0001']);
      assert.deepEqual(await again.items.codes().catch(() => 'closed'), 'closed', 'reopen closed the previous store');
      assert.deepEqual(await third.items.codes(), ['before']);
    });

    backend.test('a database from a newer version (unknown migration) refuses to open', async (ctx, env) => {
      await ctx.store.close();
      const newer = { id: 'items/0002-newer', up: () => undefined };
      if (ctx.kind === 'sqlite') {
        const file = path.join(env.dir, 'store.db');
        await openSqlite({ file, migrations: [...sqliteMigrations, newer] }).close();
        assert.throws(() => openSqlite({ file, migrations: sqliteMigrations }), (err: unknown) => err instanceof MigrationError && /items\/0002-newer/.test(err.message));
      } else {
        const { url, dbName } = env.mongo!;
        await (await openMongo({ url, dbName, migrations: [...mongoMigrations, { id: newer.id, up: async () => undefined }], indexes: mongoIndexes })).close();
        await assert.rejects(openMongo({ url, dbName, migrations: mongoMigrations, indexes: mongoIndexes }), (err: unknown) => err instanceof MigrationError && /items\/0002-newer/.test(err.message));
      }
    });

    if (backend.name === 'mongodb') {
      backend.test('a changed index definition under the same name refuses to start', async (_ctx, env) => {
        const { url, dbName } = env.mongo!;
        const changed: MongoIndexSpec[] = [{ collection: 'item', key: { code: 1 }, options: { name: 'item_code_unique' } }];
        await assert.rejects(openMongo({ url, dbName, migrations: mongoMigrations, indexes: changed }), /item\.item_code_unique/);
      });

      backend.test('maxTimeMS() turns a call deadline into a bounded server time limit', async (ctx) => {
        assert.equal(ctx.kind, 'mongodb');
        const store = ctx.store as MongoStore;
        assert.equal(store.maxTimeMS(), 5_000);
        const near = store.maxTimeMS(new Date(Date.now() + 1_000));
        assert.ok(near > 0 && near <= 1_000);
        assert.equal(store.maxTimeMS(new Date(Date.now() + 60_000)), 5_000);
        assert.throws(() => store.maxTimeMS(new Date(Date.now() - 1)), DeadlineExceededError);
      });
    }

    backend.test('parallel read-modify-write transactions on one record never lose an update', { requires: ['write-conflicts'] }, async ({ store, items }) => {
      await Promise.all(Array.from({ length: 20 }, () => store.run((tx) => items.bump(tx))));
      assert.equal(await items.counter(), 20);
    });
  },
);
