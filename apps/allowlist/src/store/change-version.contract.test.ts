import assert from 'node:assert/strict';
import path from 'node:path';
import type { UnitOfWork } from '@gatehouse/core';
import { openMongo, openSqlite } from '@gatehouse/storage';
import { describeRepositoryContract } from '@gatehouse/testing';
import { mongoUnitsInTurn } from './units-in-turn.js';
import type { ChangeVersion } from '../domain/model.js';
import { MongoChangeVersion } from './mongo-change-version.js';
import { changeVersionSqliteMigrations, SqliteChangeVersion } from './sqlite-change-version.js';

/** The counter as these cases call it: every bump is a unit of work of its own (store.run), as a change runs it. */
interface Version {
  current(): Promise<number>;
  bump(): Promise<number>;
}

interface Ctx {
  version: Version;
  close(): Promise<void>;
}

function inUnits(store: UnitOfWork, version: ChangeVersion): Version {
  return { current: () => version.current(), bump: () => store.run((tx) => version.bump(tx)) };
}

describeRepositoryContract<Ctx>(
  'change version',
  {
    sqlite: async (dir) => {
      const store = openSqlite({ file: path.join(dir, 'allowlist.db'), migrations: changeVersionSqliteMigrations });
      return { version: inUnits(store, new SqliteChangeVersion(store)), close: () => store.close() };
    },
    mongodb: async (url, dbName) => {
      const store = await openMongo({ url, dbName, migrations: [], indexes: [] });
      // One process's units take turns on MongoDB, as the service runs them (units-in-turn.ts).
      return { version: inUnits(mongoUnitsInTurn(store, store), new MongoChangeVersion(store)), close: () => store.close() };
    },
    close: (ctx) => ctx.close(),
  },
  (backend) => {
    backend.test('current() is 0 before any bump; bump() returns the new value; it survives a restart', async ({ version }, env) => {
      assert.equal(await version.current(), 0);
      assert.equal(await version.current(), 0, 'reading creates nothing');
      assert.equal(await version.bump(), 1);
      assert.equal(await version.current(), 1);
      assert.equal(await version.bump(), 2);
      assert.equal(await version.bump(), 3);
      assert.equal(await version.current(), 3);

      const reopened = await env.reopen();
      assert.equal(await reopened.version.current(), 3, 'durable across a restart');
      assert.equal(await reopened.version.bump(), 4);
    });

    backend.test('bumps are atomic: 20 in parallel (the very first ones included) return 1..20 once each', async ({ version }) => {
      const values = await Promise.all(Array.from({ length: 20 }, () => version.bump()));
      assert.deepEqual([...values].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.equal(await version.current(), 20);

      const more = await Promise.all([...Array.from({ length: 20 }, () => version.bump()), version.current()]);
      const bumps = more.slice(0, 20);
      assert.equal(new Set(bumps).size, 20, 'all distinct');
      assert.deepEqual([...bumps].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 21));
      assert.equal(await version.current(), 40);
    });
  },
);
