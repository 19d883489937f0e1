// The one contract every SigningKeyRepository adapter must meet, run on SQLite and on MongoDB.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { AlreadyExistsError, type UnitOfWork } from '@gatehouse/core';
import { openMongo, openSqlite } from '@gatehouse/storage';
import { describeRepositoryContract } from '@gatehouse/testing';
import {
  MongoSigningKeyRepository,
  SqliteSigningKeyRepository,
  signingKeyMongoIndexes,
  signingKeySqliteMigrations,
  type SigningKeyRecord,
  type SigningKeyRepository,
} from './index.js';

interface Ctx {
  keys: SigningKeyRepository;
  /** The store's unit of work, for a create inside a transaction. */
  uow: UnitOfWork;
  close(): Promise<void>;
}

const T0 = Date.UTC(2026, 10, 1, 9, 0, 0);
const at = (ms: number) => new Date(T0 + ms);
const HOUR = 60 * 60_000;

/** An operator object where a string belongs (what a parsed JSON request could smuggle in). */
const OPERATOR = { $ne: null } as unknown as string;
/** The call's result, or 'rejected': a driver may refuse a non-string outright, which is fine too. */
const settle = <T>(p: Promise<T>): Promise<T | 'rejected'> => p.catch(() => 'rejected' as const);
/** No change: a zero count, or refused. */
const nothing = (v: unknown) => v === 0 || v === 'rejected';

let n = 0;
function key(overrides: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
  n += 1;
  return {
    keyId: `key-${n.toString().padStart(4, '0')}`,
    publicKey: new Uint8Array(randomBytes(32)),
    encryptedPrivateKey: `v1:mk1:aXY${n}:Y3Q:dGFn`,
    createdAt: at(n * 1_000),
    activatesAt: at(n * 1_000 + HOUR),
    ...overrides,
  };
}

describeRepositoryContract<Ctx>(
  'signing keys',
  {
    sqlite: async (dir) => {
      const store = openSqlite({ file: path.join(dir, 'signing-keys.db'), migrations: signingKeySqliteMigrations });
      return { keys: new SqliteSigningKeyRepository(store), uow: store, close: () => store.close() };
    },
    mongodb: async (url, dbName) => {
      const store = await openMongo({ url, dbName, migrations: [], indexes: signingKeyMongoIndexes });
      return { keys: new MongoSigningKeyRepository(store), uow: store, close: () => store.close() };
    },
    close: (ctx) => ctx.close(),
  },
  (backend) => {
    backend.test('a key round-trips: the same 32 public-key bytes as a plain Uint8Array, and its dates', async ({ keys }) => {
      const k = key({ publicKey: Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 255) % 256) });
      await keys.create(k);
      const [got, ...rest] = await keys.list();
      assert.deepEqual(rest, []);
      assert.deepEqual(got, k);
      assert.ok(got?.publicKey instanceof Uint8Array);
      assert.equal(got.publicKey.byteLength, 32);
      assert.ok(Buffer.from(got.publicKey).equals(Buffer.from(k.publicKey)), 'equal bytes');
      await assert.rejects(keys.create(key({ keyId: k.keyId })), AlreadyExistsError);
    });

    backend.test('a create inside a unit of work commits with it, or not at all when the unit fails (a key and its rotation event, issue 14)', async ({ keys, uow }) => {
      const kept = key();
      await uow.run((tx) => keys.create(kept, tx));
      const dropped = key();
      await assert.rejects(
        uow.run(async (tx) => {
          await keys.create(dropped, tx);
          throw new Error('the unit failed after the insert');
        }),
        /the unit failed/,
      );
      assert.deepEqual((await keys.list()).map((k) => k.keyId), [kept.keyId]);
      await assert.rejects(uow.run((tx) => keys.create(key({ keyId: kept.keyId }), tx)), AlreadyExistsError);
    });

    backend.test('keys are listed oldest activation first, and delete counts what it removed', async ({ keys }) => {
      const late = key({ activatesAt: at(3 * HOUR) });
      const first = key({ activatesAt: at(0), createdAt: at(0) });
      const middle = key({ activatesAt: at(2 * HOUR) });
      for (const k of [late, first, middle]) await keys.create(k);
      assert.deepEqual(await keys.list(), [first, middle, late]);
      assert.equal(await keys.delete([]), 0);
      assert.equal(await keys.delete([first.keyId, late.keyId, 'key-missing']), 2);
      assert.deepEqual(await keys.list(), [middle]);
      assert.equal(await keys.delete([first.keyId]), 0, 'already gone');
    });

    backend.test('operator-like key ids delete nothing', async ({ keys }) => {
      const odd = key({ keyId: '{"$ne":null}' });
      const plain = key();
      await keys.create(odd);
      await keys.create(plain);
      assert.equal(await keys.delete(['$ne', '{"$gt":""}', '{"$exists":true}']), 0);
      assert.ok(nothing(await settle(keys.delete([OPERATOR]))), 'an operator object deletes nothing');
      assert.ok(nothing(await settle(keys.delete([/./ as unknown as string]))), 'a RegExp is no pattern inside $in');
      assert.deepEqual(
        (await keys.list()).map((k) => k.keyId),
        [odd.keyId, plain.keyId],
      );
      assert.equal(await keys.delete(['{"$ne":null}']), 1, 'the literal id is an ordinary value');
    });
  },
);
