import assert from 'node:assert/strict';
import path from 'node:path';
import { AlreadyExistsError, type Transaction } from '@gatehouse/core';
import { openMongo, openSqlite } from '@gatehouse/storage';
import { describeRepositoryContract } from '@gatehouse/testing';
import type { SignIn, SignInRepository } from '../domain/sign-in/sign-in.js';
import type { SmsChallenge } from '../domain/sms/index.js';
import { MongoSignInRepository, signInMongoIndexes } from './mongo-sign-in-repository.js';
import { SqliteSignInRepository, signInSqliteMigrations } from './sqlite-sign-in-repository.js';

interface Ctx {
  repo: SignInRepository;
  /** The store's unit of work: every write runs inside it, as the domain's do (issue 14). */
  run<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const T0 = Date.UTC(2026, 10, 1, 9, 0, 0);
const at = (ms: number) => new Date(T0 + ms);

/** An operator object where a string belongs (what a parsed JSON request could smuggle in). */
const OPERATOR = { $ne: null } as unknown as string;
/** The call's result, or 'rejected': a driver may refuse a non-string outright, which is fine too. */
const settle = <T>(p: Promise<T>): Promise<T | 'rejected'> => p.catch(() => 'rejected' as const);
/** No match, no change: nothing found, false, a zero count, an empty list, or refused. */
const nothing = (v: unknown) => v === undefined || v === false || v === 0 || (Array.isArray(v) && v.length === 0) || v === 'rejected';

let n = 0;
function signIn(overrides: Partial<SignIn> = {}): SignIn {
  n += 1;
  return {
    signInId: `si-${n.toString().padStart(4, '0')}`,
    accountId: 'acc-1',
    clientIp: '203.0.113.7',
    createdAt: at(0),
    expiresAt: at(10 * 60_000),
    completed: ['google'],
    sms: null,
    status: 'open',
    sessionId: null,
    version: 1,
    ...overrides,
  };
}

function sms(signInId: string, overrides: Partial<SmsChallenge> = {}): SmsChallenge {
  return { signInId, codeHash: 'ab'.repeat(32), expiresAt: at(5 * 60_000), sends: 1, lastSentAt: at(1_000), usedAt: null, ...overrides };
}

describeRepositoryContract<Ctx>(
  'sign-ins',
  {
    sqlite: async (dir) => {
      const store = openSqlite({ file: path.join(dir, 'identity.db'), migrations: signInSqliteMigrations });
      return { repo: new SqliteSignInRepository(store), run: (fn) => store.run(fn), close: () => store.close() };
    },
    mongodb: async (url, dbName) => {
      const store = await openMongo({ url, dbName, migrations: [], indexes: signInMongoIndexes });
      return { repo: new MongoSignInRepository(store), run: (fn) => store.run(fn), close: () => store.close() };
    },
    close: (ctx) => ctx.close(),
  },
  (backend) => {
    backend.test('a sign-in round-trips with every date, its own and its SMS challenge', async ({ repo, run }) => {
      const fresh = signIn();
      await run((tx) => repo.create(tx, fresh));
      assert.deepEqual(await repo.get(fresh.signInId), fresh, 'sms and sessionId stay null');

      const base = signIn();
      const full: SignIn = { ...base, completed: ['google', 'sms', 'otp'], sms: sms(base.signInId, { sends: 2, usedAt: at(90_000) }), status: 'completed', sessionId: 'sess-9', version: 4 };
      await run((tx) => repo.create(tx, full));
      const got = await repo.get(full.signInId);
      assert.deepEqual(got, full);
      assert.ok(got?.sms?.expiresAt instanceof Date && got.sms.lastSentAt instanceof Date && got.sms.usedAt instanceof Date, 'SMS dates come back as Dates');
      assert.ok(got.createdAt instanceof Date && got.expiresAt instanceof Date);

      assert.equal(await repo.get('si-missing'), undefined);
      await assert.rejects(run((tx) => repo.create(tx, { ...signIn(), signInId: fresh.signInId })), AlreadyExistsError);
    });

    backend.test('updates are compare-and-set on the version: a stale writer changes nothing, one of 20 completions wins', async ({ repo, run }) => {
      const s = signIn();
      await run((tx) => repo.create(tx, s));
      const withSms: SignIn = { ...s, sms: sms(s.signInId), version: 2 };
      assert.equal(await run((tx) => repo.update(tx, withSms)), true);
      assert.equal(await run((tx) => repo.update(tx, { ...s, completed: ['google', 'sms'], version: 2 })), false, 'the stale version 1 reader loses');
      assert.deepEqual(await repo.get(s.signInId), withSms, 'the losing write left no trace');
      assert.equal(await run((tx) => repo.update(tx, { ...withSms, version: 4 })), false, 'skipping a version is no match either');

      const completions = Array.from({ length: 20 }, (_, i): SignIn => ({ ...withSms, completed: ['google', 'sms', 'otp'], status: 'completed', sessionId: `sess-${i}`, version: 3 }));
      const wins = await Promise.all(completions.map((c) => run((tx) => repo.update(tx, c))));
      assert.equal(wins.filter(Boolean).length, 1, 'exactly one VerifyOtp may complete the sign-in');
      const winner = completions[wins.indexOf(true)]!;
      assert.deepEqual(await repo.get(s.signInId), winner, 'the stored sign-in is the winner');
    });

    backend.test('purgeExpired deletes only sign-ins that expired before the cut-off and counts them', async ({ repo, run }) => {
      const cutoff = at(60 * 60_000);
      const old1 = signIn({ expiresAt: at(10 * 60_000) });
      const old2 = signIn({ expiresAt: new Date(cutoff.getTime() - 1), sms: sms('x'), status: 'completed', sessionId: 'sess-1' });
      const onCutoff = signIn({ expiresAt: cutoff });
      const later = signIn({ expiresAt: at(2 * 60 * 60_000) });
      for (const s of [old1, old2, onCutoff, later]) await run((tx) => repo.create(tx, s));
      assert.equal(await repo.purgeExpired(cutoff), 2);
      assert.equal(await repo.get(old1.signInId), undefined);
      assert.equal(await repo.get(old2.signInId), undefined);
      assert.deepEqual(await repo.get(onCutoff.signInId), onCutoff, 'expiring exactly at the cut-off is not "before" it');
      assert.deepEqual(await repo.get(later.signInId), later);
      assert.equal(await repo.purgeExpired(cutoff), 0, 'nothing left to purge');
    });

    backend.test('operator-like ids are plain strings: nothing is matched or changed', async ({ repo, run }) => {
      const s = signIn({ signInId: '{"$ne":null}' });
      const other = signIn();
      await run((tx) => repo.create(tx, s));
      await run((tx) => repo.create(tx, other));
      assert.deepEqual(await repo.get('{"$ne":null}'), s);
      assert.equal(await repo.get('$ne'), undefined);
      assert.equal(await repo.get('{"$gt":""}'), undefined);
      assert.equal(await run((tx) => repo.update(tx, { ...other, signInId: '$ne', status: 'completed', version: 2 })), false);
      assert.equal(await run((tx) => repo.update(tx, { ...other, signInId: '{"$gt":""}', status: 'completed', version: 2 })), false);
      assert.ok(nothing(await settle(repo.get(OPERATOR))), 'an operator object matches no sign-in');
      assert.ok(nothing(await settle(run((tx) => repo.update(tx, { ...other, signInId: OPERATOR, status: 'completed', version: 2 })))));
      assert.ok(nothing(await settle(run((tx) => repo.update(tx, { ...other, status: 'completed', version: OPERATOR as unknown as number })))));
      assert.ok(nothing(await settle(repo.purgeExpired(OPERATOR as unknown as Date))), 'a forged cut-off purges nothing');
      assert.deepEqual(await repo.get(other.signInId), other, 'no other sign-in was touched');
      assert.deepEqual(await repo.get(s.signInId), s);
    });
  },
);
