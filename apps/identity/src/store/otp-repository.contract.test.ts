import assert from 'node:assert/strict';
import path from 'node:path';
import { AlreadyExistsError, type Transaction } from '@gatehouse/core';
import { openMongo, openSqlite } from '@gatehouse/storage';
import { describeRepositoryContract } from '@gatehouse/testing';
import { INITIAL_THROTTLE_STATE, otpCasGuard, type OtpCredential, type ThrottleCasStore } from '../domain/otp/index.js';
import { MongoOtpCredentialRepository, MongoThrottleRepository, otpMongoIndexes } from './mongo-otp-repository.js';
import { SqliteOtpCredentialRepository, SqliteThrottleRepository, otpSqliteMigrations, type OtpCredentialRepository } from './sqlite-otp-repository.js';

interface Ctx {
  creds: OtpCredentialRepository;
  throttle: ThrottleCasStore;
  /** The store's unit of work: every write runs inside it, as the domain's do (issue 14). */
  run<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

let n = 0;
function credential(overrides: Partial<OtpCredential> = {}): OtpCredential {
  n += 1;
  return {
    credentialId: `otp-${n}`,
    accountId: 'acc-1',
    kind: 'totp',
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    label: 'phone',
    encryptedSeed: 'v1:k1:aXY:Y3Q:dGFn',
    status: 'active',
    createdAt: new Date(Date.UTC(2026, 10, 1)),
    confirmBy: null,
    activatedAt: new Date(Date.UTC(2026, 10, 1, 0, 5)),
    lastUsedAt: null,
    retiredAt: null,
    lastAcceptedStep: 100,
    counter: 0,
    driftSteps: 0,
    ...overrides,
  };
}

describeRepositoryContract<Ctx>(
  'otp credentials and throttle',
  {
    sqlite: async (dir) => {
      const store = openSqlite({ file: path.join(dir, 'identity.db'), migrations: otpSqliteMigrations });
      return { creds: new SqliteOtpCredentialRepository(store), throttle: new SqliteThrottleRepository(store), run: (fn) => store.run(fn), close: () => store.close() };
    },
    mongodb: async (url, dbName) => {
      const store = await openMongo({ url, dbName, migrations: [], indexes: otpMongoIndexes });
      return { creds: new MongoOtpCredentialRepository(store), throttle: new MongoThrottleRepository(store), run: (fn) => store.run(fn), close: () => store.close() };
    },
    close: (ctx) => ctx.close(),
  },
  (backend) => {
    backend.test('a credential round-trips with its dates and is found by account and status', async ({ creds, run }) => {
      const c = credential();
      await run((tx) => creds.create(tx, c));
      assert.deepEqual(await creds.get(c.credentialId), c);
      assert.deepEqual((await creds.byAccount('acc-1', 'active')).map((x) => x.credentialId), [c.credentialId]);
      assert.deepEqual(await creds.byAccount('acc-1', 'pending'), []);
      await assert.rejects(run((tx) => creds.create(tx, c)), AlreadyExistsError);
    });

    backend.test('20 parallel compare-and-sets on one guard: exactly one wins (one code, one use)', async ({ creds, run }) => {
      const c = credential();
      await run((tx) => creds.create(tx, c));
      const guard = otpCasGuard(c);
      const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => run((tx) => creds.compareAndSet(tx, guard, { lastAcceptedStep: 101, driftSteps: 0, label: `w${i}` }))));
      assert.equal(wins.filter(Boolean).length, 1);
      assert.equal((await creds.get(c.credentialId))?.lastAcceptedStep, 101);
      assert.equal(await run((tx) => creds.compareAndSet(tx, guard, { lastAcceptedStep: 102 })), false, 'the old guard no longer matches');
      assert.equal(await run((tx) => creds.compareAndSet(tx, { ...otpCasGuard(c), lastAcceptedStep: 101, status: 'retired' }, { lastAcceptedStep: 102 })), false, 'status is part of the guard');
    });

    backend.test('operator-like ids are plain strings', async ({ creds, run }) => {
      await run((tx) => creds.create(tx, credential({ credentialId: '{"$ne":null}' })));
      assert.equal(await creds.get('$ne'), undefined);
      assert.equal((await creds.get('{"$ne":null}'))?.credentialId, '{"$ne":null}');
      assert.deepEqual(await creds.byAccount('{"$gt":""}', 'active'), []);
    });

    backend.test('throttle: the first write is a single-winner insert; later writes compare the whole state', async ({ throttle, run }) => {
      assert.deepEqual(await throttle.get('acc-t'), INITIAL_THROTTLE_STATE);
      const one = { consecutiveFailures: 1, lockedAt: null, nextAttemptAt: null };
      const wins = await Promise.all(Array.from({ length: 20 }, () => run((tx) => throttle.compareAndSet(tx, 'acc-t', INITIAL_THROTTLE_STATE, one))));
      assert.equal(wins.filter(Boolean).length, 1, 'parallel reservations from zero: one wins');
      const delayed = { consecutiveFailures: 2, lockedAt: null, nextAttemptAt: new Date(Date.UTC(2026, 10, 1, 0, 0, 2)) };
      assert.equal(await run((tx) => throttle.compareAndSet(tx, 'acc-t', one, delayed)), true);
      assert.equal(await run((tx) => throttle.compareAndSet(tx, 'acc-t', one, delayed)), false, 'a stale guard loses');
      assert.deepEqual(await throttle.get('acc-t'), delayed);
      const locked = { consecutiveFailures: 10, lockedAt: new Date(Date.UTC(2026, 10, 1, 0, 1)), nextAttemptAt: null };
      assert.equal(await run((tx) => throttle.compareAndSet(tx, 'acc-t', { ...delayed, nextAttemptAt: new Date(delayed.nextAttemptAt.getTime()) }, locked)), true, 'dates compare by instant');
      assert.equal(await run((tx) => throttle.resetIfUnlocked(tx, 'acc-t', INITIAL_THROTTLE_STATE)), false, 'a locked account is not reset by a sign-in');
      assert.deepEqual(await throttle.get('acc-t'), locked);
      assert.equal(await run((tx) => throttle.resetIfUnlocked(tx, 'acc-free', INITIAL_THROTTLE_STATE)), true);
    });
  },
);
