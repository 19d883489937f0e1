import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { AlreadyExistsError } from '@gatehouse/core';
import { openMongo, openSqlite } from '@gatehouse/storage';
import { describeRepositoryContract } from '@gatehouse/testing';
import type { BootstrapTokenRepository, SigningKeyRecord, SigningKeyRepository } from '../domain/sessions/signing-key.js';
import { MongoBootstrapTokenRepository, MongoSigningKeyRepository, signingKeyMongoIndexes } from './mongo-signing-key-repository.js';
import { SqliteBootstrapTokenRepository, SqliteSigningKeyRepository, signingKeySqliteMigrations } from './sqlite-signing-key-repository.js';

interface Ctx {
  keys: SigningKeyRepository;
  bootstrap: BootstrapTokenRepository;
  close(): Promise<void>;
}

const T0 = Date.UTC(2026, 10, 1, 9, 0, 0);
const at = (ms: number) => new Date(T0 + ms);
const HOUR = 60 * 60_000;

/** An operator object where a string belongs (what a parsed JSON request could smuggle in). */
const OPERATOR = { $ne: null } as unknown as string;
/** The call's result, or 'rejected': a driver may refuse a non-string outright, which is fine too. */
const settle = <T>(p: Promise<T>): Promise<T | 'rejected'> => p.catch(() => 'rejected' as const);
/** No match, no change: nothing found, false, a zero count, an empty list, or refused. */
const nothing = (v: unknown) => v === undefined || v === false || v === 0 || (Array.isArray(v) && v.length === 0) || v === 'rejected';

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

const hash = (s: string) => s.padEnd(64, '0');

describeRepositoryContract<Ctx>(
  'signing keys and bootstrap token',
  {
    sqlite: async (dir) => {
      const store = openSqlite({ file: path.join(dir, 'identity.db'), migrations: signingKeySqliteMigrations });
      return { keys: new SqliteSigningKeyRepository(store), bootstrap: new SqliteBootstrapTokenRepository(store), close: () => store.close() };
    },
    mongodb: async (url, dbName) => {
      const store = await openMongo({ url, dbName, migrations: [], indexes: signingKeyMongoIndexes });
      return { keys: new MongoSigningKeyRepository(store), bootstrap: new MongoBootstrapTokenRepository(store), close: () => store.close() };
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

    backend.test('bootstrap: 20 parallel consumes of the right token, exactly one wins; then it is no longer pending', async ({ bootstrap }) => {
      const now = at(0);
      assert.equal(await bootstrap.pending(now), false, 'no token yet');
      assert.equal(await bootstrap.consume(hash('a'), now), false);
      await bootstrap.put(hash('a'), now, at(HOUR));
      assert.equal(await bootstrap.pending(now), true);
      assert.equal(await bootstrap.consume(hash('b'), now), false, 'a wrong hash is refused');
      assert.equal(await bootstrap.pending(now), true, 'and consumes nothing');
      const wins = await Promise.all(Array.from({ length: 20 }, () => bootstrap.consume(hash('a'), at(1_000))));
      assert.equal(wins.filter(Boolean).length, 1, 'exactly one caller creates the first officer');
      assert.equal(await bootstrap.consume(hash('a'), at(2_000)), false, 'a used token is refused');
      assert.equal(await bootstrap.pending(at(2_000)), false);
    });

    backend.test('bootstrap: an expired token is refused; put replaces the earlier token', async ({ bootstrap }) => {
      await bootstrap.put(hash('old'), at(0), at(HOUR));
      assert.equal(await bootstrap.pending(at(HOUR - 1)), true);
      assert.equal(await bootstrap.pending(at(HOUR)), false, 'expired at its expiry instant');
      assert.equal(await bootstrap.consume(hash('old'), at(HOUR)), false, 'an expired token is refused');
      assert.equal(await bootstrap.consume(hash('old'), at(HOUR + 1)), false);

      await bootstrap.put(hash('new'), at(2 * HOUR), at(3 * HOUR));
      assert.equal(await bootstrap.pending(at(2 * HOUR)), true);
      assert.equal(await bootstrap.consume(hash('old'), at(HOUR - 1)), false, 'the replaced token is gone, even before its own expiry');
      await bootstrap.put(hash('newer'), at(2 * HOUR), at(3 * HOUR));
      assert.equal(await bootstrap.consume(hash('new'), at(2 * HOUR)), false, 'an unused token is replaced by put');
      assert.equal(await bootstrap.consume(hash('newer'), at(2 * HOUR)), true);
    });

    backend.test('bootstrap: operator-like hashes are plain strings and consume nothing', async ({ bootstrap }) => {
      await bootstrap.put(hash('a'), at(0), at(HOUR));
      for (const h of ['$ne', '{"$ne":null}', '{"$gt":""}', '']) assert.equal(await bootstrap.consume(h, at(1)), false, h);
      assert.ok(nothing(await settle(bootstrap.consume(OPERATOR, at(1)))), 'an operator object is no wildcard for the hash');
      assert.ok(nothing(await settle(bootstrap.consume(hash('a'), OPERATOR as unknown as Date))), 'nor for the clock');
      assert.equal(await bootstrap.pending(at(1)), true, 'the real token is still unused');
      assert.equal(await bootstrap.consume(hash('a'), at(1)), true);
    });
  },
);
