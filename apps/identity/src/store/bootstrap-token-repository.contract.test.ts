import assert from 'node:assert/strict';
import path from 'node:path';
import type { Transaction } from '@gatehouse/core';
import { openMongo, openSqlite } from '@gatehouse/storage';
import { describeRepositoryContract } from '@gatehouse/testing';
import type { BootstrapTokenRepository } from '../domain/sessions/bootstrap-token.js';
import { MongoBootstrapTokenRepository } from './mongo-bootstrap-token-repository.js';
import { SqliteBootstrapTokenRepository, signingKeyBootstrapSqliteMigrations } from './sqlite-bootstrap-token-repository.js';

interface Ctx {
  bootstrap: BootstrapTokenRepository;
  /** The store's unit of work: every write runs inside it, as the domain's do (issue 14). */
  run<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const T0 = Date.UTC(2026, 10, 1, 9, 0, 0);
const at = (ms: number) => new Date(T0 + ms);
const HOUR = 60 * 60_000;

/** An operator object where a string belongs (what a parsed JSON request could smuggle in). */
const OPERATOR = { $ne: null } as unknown as string;
/** The call's result, or 'rejected': a driver may refuse a non-string outright, which is fine too. */
const settle = <T>(p: Promise<T>): Promise<T | 'rejected'> => p.catch(() => 'rejected' as const);
/** No change: false, or refused. */
const nothing = (v: unknown) => v === false || v === 'rejected';

const hash = (s: string) => s.padEnd(64, '0');

describeRepositoryContract<Ctx>(
  'bootstrap token',
  {
    sqlite: async (dir) => {
      const store = openSqlite({ file: path.join(dir, 'identity.db'), migrations: signingKeyBootstrapSqliteMigrations });
      return { bootstrap: new SqliteBootstrapTokenRepository(store), run: (fn) => store.run(fn), close: () => store.close() };
    },
    mongodb: async (url, dbName) => {
      const store = await openMongo({ url, dbName, migrations: [], indexes: [] });
      return { bootstrap: new MongoBootstrapTokenRepository(store), run: (fn) => store.run(fn), close: () => store.close() };
    },
    close: (ctx) => ctx.close(),
  },
  (backend) => {
    backend.test('bootstrap: 20 parallel consumes of the right token, exactly one wins; then it is no longer pending', async ({ bootstrap, run }) => {
      const now = at(0);
      assert.equal(await bootstrap.pending(now), false, 'no token yet');
      assert.equal(await run((tx) => bootstrap.consume(tx, hash('a'), now)), false);
      await run((tx) => bootstrap.put(tx, hash('a'), now, at(HOUR)));
      assert.equal(await bootstrap.pending(now), true);
      assert.equal(await run((tx) => bootstrap.consume(tx, hash('b'), now)), false, 'a wrong hash is refused');
      assert.equal(await bootstrap.pending(now), true, 'and consumes nothing');
      const wins = await Promise.all(Array.from({ length: 20 }, () => run((tx) => bootstrap.consume(tx, hash('a'), at(1_000)))));
      assert.equal(wins.filter(Boolean).length, 1, 'exactly one caller creates the first officer');
      assert.equal(await run((tx) => bootstrap.consume(tx, hash('a'), at(2_000))), false, 'a used token is refused');
      assert.equal(await bootstrap.pending(at(2_000)), false);
    });

    backend.test('bootstrap: an expired token is refused; put replaces the earlier token', async ({ bootstrap, run }) => {
      await run((tx) => bootstrap.put(tx, hash('old'), at(0), at(HOUR)));
      assert.equal(await bootstrap.pending(at(HOUR - 1)), true);
      assert.equal(await bootstrap.pending(at(HOUR)), false, 'expired at its expiry instant');
      assert.equal(await run((tx) => bootstrap.consume(tx, hash('old'), at(HOUR))), false, 'an expired token is refused');
      assert.equal(await run((tx) => bootstrap.consume(tx, hash('old'), at(HOUR + 1))), false);

      await run((tx) => bootstrap.put(tx, hash('new'), at(2 * HOUR), at(3 * HOUR)));
      assert.equal(await bootstrap.pending(at(2 * HOUR)), true);
      assert.equal(await run((tx) => bootstrap.consume(tx, hash('old'), at(HOUR - 1))), false, 'the replaced token is gone, even before its own expiry');
      await run((tx) => bootstrap.put(tx, hash('newer'), at(2 * HOUR), at(3 * HOUR)));
      assert.equal(await run((tx) => bootstrap.consume(tx, hash('new'), at(2 * HOUR))), false, 'an unused token is replaced by put');
      assert.equal(await run((tx) => bootstrap.consume(tx, hash('newer'), at(2 * HOUR))), true);
    });

    backend.test('bootstrap: operator-like hashes are plain strings and consume nothing', async ({ bootstrap, run }) => {
      await run((tx) => bootstrap.put(tx, hash('a'), at(0), at(HOUR)));
      for (const h of ['$ne', '{"$ne":null}', '{"$gt":""}', '']) assert.equal(await run((tx) => bootstrap.consume(tx, h, at(1))), false, h);
      assert.ok(nothing(await settle(run((tx) => bootstrap.consume(tx, OPERATOR, at(1))))), 'an operator object is no wildcard for the hash');
      assert.ok(nothing(await settle(run((tx) => bootstrap.consume(tx, hash('a'), OPERATOR as unknown as Date)))), 'nor for the clock');
      assert.equal(await bootstrap.pending(at(1)), true, 'the real token is still unused');
      assert.equal(await run((tx) => bootstrap.consume(tx, hash('a'), at(1))), true);
    });
  },
);
