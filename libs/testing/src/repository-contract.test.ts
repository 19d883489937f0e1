// Self-test of the contract harness: a tiny counter repository with both adapters.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { Transaction, UnitOfWork } from '@gatehouse/core';
import { openMongo, openSqlite, type MongoStore, type SqliteStore } from '@gatehouse/storage';
import path from 'node:path';
import { describeRepositoryContract, findMongo } from './index.js';

interface CounterRepository {
  increment(tx: Transaction, name: string): Promise<number>;
  get(name: string): Promise<number>;
  hasExpiryIndex(): Promise<boolean>;
}

class SqliteCounters implements CounterRepository {
  constructor(private readonly store: SqliteStore) {}
  increment(tx: Transaction, name: string) {
    return this.store.exec(tx, (db) => {
      db.prepare('INSERT INTO counter (name, value) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1').run(name);
      return db.prepare('SELECT value FROM counter WHERE name = ?').pluck().get(name) as number;
    });
  }
  get(name: string) {
    return this.store.exec(undefined, (db) => (db.prepare('SELECT value FROM counter WHERE name = ?').pluck().get(name) as number | undefined) ?? 0);
  }
  hasExpiryIndex() {
    return this.store.exec(undefined, (db) => db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'counter_expires'").get() !== undefined);
  }
}

interface CounterDoc {
  _id: string;
  value: number;
  expiresAt?: Date;
}

class MongoCounters implements CounterRepository {
  constructor(private readonly store: MongoStore) {}
  increment(tx: Transaction, name: string) {
    return this.store.exec(tx, async (db, session) => {
      const doc = await db
        .collection<CounterDoc>('counter')
        .findOneAndUpdate({ _id: name }, { $inc: { value: 1 } }, { upsert: true, returnDocument: 'after', session });
      return doc?.value ?? 0;
    });
  }
  get(name: string) {
    return this.store.exec(undefined, async (db) => (await db.collection<CounterDoc>('counter').findOne({ _id: name }))?.value ?? 0);
  }
  hasExpiryIndex() {
    return this.store.exec(undefined, async (db) =>
      (await db.collection('counter').listIndexes().toArray()).some((ix) => ix['name'] === 'counter_expires' && ix['expireAfterSeconds'] === 0),
    );
  }
}

interface Ctx {
  uow: UnitOfWork & { close(): Promise<void> };
  counters: CounterRepository;
}

const report = describeRepositoryContract<Ctx>(
  'harness-self-test',
  {
    sqlite: async (dir) => {
      const store = openSqlite({
        file: path.join(dir, 'counter.db'),
        migrations: [
          {
            id: 'counter/0001',
            up: (db) => db.exec('CREATE TABLE counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL, expires_at INTEGER); CREATE INDEX counter_expires ON counter (expires_at)'),
          },
        ],
      });
      return { uow: store, counters: new SqliteCounters(store) };
    },
    mongodb: async (url, dbName) => {
      const store = await openMongo({
        url,
        dbName,
        migrations: [],
        indexes: [{ collection: 'counter', key: { expiresAt: 1 }, options: { name: 'counter_expires', expireAfterSeconds: 0 } }],
      });
      return { uow: store, counters: new MongoCounters(store) };
    },
    close: (ctx) => ctx.uow.close(),
  },
  (backend) => {
    backend.test('increments and reads back through a transaction', async ({ uow, counters }) => {
      assert.equal(await uow.run((tx) => counters.increment(tx, 'a')), 1);
      assert.equal(await uow.run((tx) => counters.increment(tx, 'a')), 2);
      assert.equal(await counters.get('a'), 2);
    });

    backend.test('every case starts from empty storage', async ({ counters }) => {
      assert.equal(await counters.get('a'), 0);
    });

    backend.test('data survives closing and reopening the store', async ({ uow, counters }, env) => {
      await uow.run((tx) => counters.increment(tx, 'b'));
      const reopened = await env.reopen();
      assert.equal(await reopened.counters.get('b'), 1);
    });

    backend.test('parallel transactions never lose an increment', { requires: ['write-conflicts'] }, async ({ uow, counters }) => {
      await Promise.all(Array.from({ length: 20 }, () => uow.run((tx) => counters.increment(tx, 'c'))));
      assert.equal(await counters.get('c'), 20);
    });

    backend.test('expired counters are collected by a TTL index', { requires: ['ttl'] }, async ({ counters }) => {
      assert.equal(await counters.hasExpiryIndex(), true);
    });
  },
);

it('the harness ran every case on SQLite and skipped on jongodb only what jongodb lacks, saying why', async () => {
  const mongo = await findMongo();
  assert.equal(report.ran.get('sqlite'), 5);
  const summary = report.summary();
  assert.match(summary, /^storage harness \[harness-self-test\]: ran sqlite \(5 cases\)/);
  if ('skipped' in mongo) {
    assert.equal(report.skipped.length, 5);
    assert.ok(report.skipped.every((s) => s.label === 'mongodb' && s.reason === mongo.skipped));
    assert.match(summary, /skipped mongodb entirely \(5 cases\): no MongoDB/);
  } else if (mongo.flavour === 'jongodb') {
    assert.equal(report.ran.get('mongodb/jongodb'), 3);
    assert.deepEqual(
      report.skipped.map((s) => [s.label, s.caseName, s.reason]),
      [
        ['mongodb/jongodb', 'parallel transactions never lose an increment', 'jongodb lacks write-conflict detection'],
        ['mongodb/jongodb', 'expired counters are collected by a TTL index', 'jongodb lacks TTL expiry'],
      ],
    );
    assert.match(summary, /ran sqlite \(5 cases\), mongodb\/jongodb \(3 cases\); skipped on mongodb\/jongodb: "parallel/);
  } else {
    assert.equal(report.ran.get(`mongodb/${mongo.flavour}`), 5);
    assert.equal(report.skipped.length, 0);
  }
});
