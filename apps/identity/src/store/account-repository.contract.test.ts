import assert from 'node:assert/strict';
import path from 'node:path';
import { AlreadyExistsError, type Transaction } from '@gatehouse/core';
import { openMongo, openSqlite, type MongoStore, type SqliteStore } from '@gatehouse/storage';
import { describeRepositoryContract } from '@gatehouse/testing';
import type { Account, AccountRepository } from '../domain/accounts/account.js';
import { MongoAccountRepository, accountMongoIndexes } from './mongo-account-repository.js';
import { SqliteAccountRepository, accountSqliteMigrations } from './sqlite-account-repository.js';

interface Ctx {
  repo: AccountRepository;
  /** The store's unit of work: every write runs inside it, as the domain's do (issue 14). */
  run<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

let n = 0;
function account(overrides: Partial<Account> = {}): Account {
  n += 1;
  const t = new Date(Date.UTC(2026, 10, 1, 9, 0, n));
  return {
    accountId: `acc-${n.toString().padStart(4, '0')}`,
    issuer: 'https://accounts.google.com',
    subject: `1000${n}`,
    email: `user${n}@bank.example`,
    displayName: `User ${n}`,
    hostedDomain: 'bank.example',
    roles: [],
    state: 'pending_approval',
    createdAt: t,
    updatedAt: t,
    version: 1,
    ...overrides,
  };
}

describeRepositoryContract<Ctx>(
  'accounts',
  {
    sqlite: async (dir) => {
      const store: SqliteStore = openSqlite({ file: path.join(dir, 'identity.db'), migrations: accountSqliteMigrations });
      return { repo: new SqliteAccountRepository(store), run: (fn) => store.run(fn), close: () => store.close() };
    },
    mongodb: async (url, dbName) => {
      const store: MongoStore = await openMongo({ url, dbName, migrations: [], indexes: accountMongoIndexes });
      return { repo: new MongoAccountRepository(store), run: (fn) => store.run(fn), close: () => store.close() };
    },
    close: (ctx) => ctx.close(),
  },
  (backend) => {
    backend.test('an account is found by id and by Google issuer + subject, with its dates', async ({ repo, run }) => {
      const a = account({ roles: ['manager'], state: 'active', approvedAt: new Date(Date.UTC(2026, 10, 2)), approvedBy: { accountId: 'acc-off', email: 'o@bank.example' } });
      await run((tx) => repo.create(tx, a));
      assert.deepEqual(await repo.byId(a.accountId), a);
      assert.deepEqual(await repo.byIssuerSubject(a.issuer, a.subject), a);
      assert.equal(await repo.byIssuerSubject('accounts.google.com', a.subject), undefined, 'the issuer is part of the key');
    });

    backend.test('one account per Google identity (AlreadyExists), whatever the e-mail', async ({ repo, run }) => {
      const a = account();
      await run((tx) => repo.create(tx, a));
      await assert.rejects(run((tx) => repo.create(tx, { ...account(), issuer: a.issuer, subject: a.subject })), AlreadyExistsError);
    });

    backend.test('updates are compare-and-set on the version: a stale writer loses', async ({ repo, run }) => {
      const a = account();
      await run((tx) => repo.create(tx, a));
      const first = { ...a, state: 'active' as const, roles: ['developer' as const], version: 2 };
      const stale = { ...a, state: 'suspended' as const, version: 2 };
      assert.equal(await run((tx) => repo.update(tx, first)), true);
      assert.equal(await run((tx) => repo.update(tx, stale)), false);
      assert.deepEqual((await repo.byId(a.accountId))?.roles, ['developer']);
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => run((tx) => repo.update(tx, { ...first, displayName: `w${i}`, version: 3 }))));
      assert.equal(results.filter(Boolean).length, 1, 'exactly one of 10 concurrent writers wins');
    });

    backend.test('listing filters by state and role, newest first, and pages by cursor', async ({ repo, run }) => {
      const made = [];
      for (let i = 0; i < 5; i++) made.push(account({ state: 'active', roles: i % 2 === 0 ? ['support'] : ['manager', 'team_lead'] }));
      made.push(account({ state: 'suspended', roles: ['support'] }));
      for (const a of made) await run((tx) => repo.create(tx, a));
      const support = await repo.list({ states: ['active'], roles: ['support'] }, { limit: 10 });
      assert.deepEqual(support.map((a) => a.accountId), [made[4]!, made[2]!, made[0]!].map((a) => a.accountId));
      const p1 = await repo.list({}, { limit: 4 });
      const last = p1[p1.length - 1]!;
      const p2 = await repo.list({}, { after: { createdAt: last.createdAt, accountId: last.accountId }, limit: 4 });
      assert.deepEqual([...p1, ...p2].map((a) => a.accountId), [...made].reverse().map((a) => a.accountId));
    });

    backend.test('operator-like strings are plain values ($ne, $where, dotted keys)', async ({ repo, run }) => {
      const a = account({ subject: '{"$ne":null}', email: '$where@x.example' });
      await run((tx) => repo.create(tx, a));
      assert.equal((await repo.byIssuerSubject(a.issuer, '{"$ne":null}'))?.accountId, a.accountId);
      assert.equal(await repo.byIssuerSubject(a.issuer, '$ne'), undefined);
      assert.equal(await repo.byId('{"$gt":""}'), undefined);
      assert.deepEqual(await repo.list({ states: ['$ne' as never] }, { limit: 10 }), []);
    });

    backend.test('the e-mail filter finds exactly one address, case-insensitively, before paging; patterns are text', async ({ repo, run }) => {
      const many = Array.from({ length: 12 }, (_, i) => account({ email: `user${i}@bank.example` }));
      const target = account({ email: 'Ada.Lovelace@Bank.example' });
      for (const a of [target, ...many]) await run((tx) => repo.create(tx, a));
      // The target is the oldest: a filter applied after paging would miss it on the first page.
      assert.deepEqual((await repo.list({ email: 'ada.lovelace@bank.example' }, { limit: 3 })).map((a) => a.accountId), [target.accountId]);
      assert.deepEqual(await repo.list({ email: 'ada.lovelace@bank' }, { limit: 50 }), []);
      assert.deepEqual(await repo.list({ email: '.*' }, { limit: 50 }), []);
      assert.deepEqual(await repo.list({ email: 'Ada.Lovelace@Bank.exampl.' }, { limit: 50 }), [], 'a dot is a dot, not any character');
    });

    backend.test('the last active officer is counted', async ({ repo, run }) => {
      assert.equal(await repo.countActiveOfficers(), 0);
      await run((tx) => repo.create(tx, account({ state: 'active', roles: ['security_officer'] })));
      await run((tx) => repo.create(tx, account({ state: 'suspended', roles: ['security_officer'] })));
      await run((tx) => repo.create(tx, account({ state: 'active', roles: ['manager'] })));
      assert.equal(await repo.countActiveOfficers(), 1);
    });
  },
);
