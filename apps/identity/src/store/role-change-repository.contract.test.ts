import assert from 'node:assert/strict';
import path from 'node:path';
import type { Transaction } from '@gatehouse/core';
import { openMongo, openSqlite } from '@gatehouse/storage';
import { describeRepositoryContract } from '@gatehouse/testing';
import type { RoleChange, RoleChangeRepository } from '../domain/accounts/role-change.js';
import { MongoRoleChangeRepository, roleChangeMongoIndexes } from './mongo-role-change-repository.js';
import { SqliteRoleChangeRepository, roleChangeSqliteMigrations } from './sqlite-role-change-repository.js';

interface Ctx {
  changes: RoleChangeRepository;
  /** The store's unit of work: every write runs inside it, as the domain's do (issue 14). */
  run<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const T0 = Date.UTC(2026, 10, 1, 9, 0, 0);
const at = (ms: number) => new Date(T0 + ms);
const HOUR = 60 * 60_000;
let n = 0;

function change(o: Partial<RoleChange> = {}): RoleChange {
  n++;
  return {
    changeId: `rch_${String(n).padStart(22, '0')}`,
    accountId: 'acc_0000000000000000000001',
    kind: 'set_roles',
    roles: ['manager', 'developer'],
    grantedRoles: ['manager'],
    reason: 'promotion HR-1',
    accountVersion: 3,
    requestedBy: { accountId: 'acc_0000000000000000000009', email: 'olga@bank.example' },
    requestedAt: at(n * 1000),
    expiresAt: at(n * 1000 + 24 * HOUR),
    state: 'pending',
    version: 1,
    ...o,
  };
}

describeRepositoryContract<Ctx>(
  'role changes',
  {
    sqlite: async (dir) => {
      const store = openSqlite({ file: path.join(dir, 'identity.db'), migrations: roleChangeSqliteMigrations });
      return { changes: new SqliteRoleChangeRepository(store), run: (fn) => store.run(fn), close: () => store.close() };
    },
    mongodb: async (url, dbName) => {
      const store = await openMongo({ url, dbName, migrations: [], indexes: roleChangeMongoIndexes });
      return { changes: new MongoRoleChangeRepository(store), run: (fn) => store.run(fn), close: () => store.close() };
    },
    close: (ctx) => ctx.close(),
  },
  (backend) => {
    backend.test('role changes: round trip with every field; unknown and operator ids find nothing', async ({ changes, run }) => {
      const c = change({ kind: 'approve_account', displayName: 'Lea Dubois', phoneCiphertext: 'v1.abc', phoneMask: '••••0042' });
      await run((tx) => changes.create(tx, c));
      assert.deepEqual(await changes.byId(c.changeId), c);
      assert.equal(await changes.byId('rch_nope'), undefined);
      assert.equal(await changes.byId({ $ne: null } as unknown as string).catch(() => undefined), undefined);
    });

    backend.test('role changes: 20 parallel approvals of one pending change, exactly one wins; a decided change stays decided', async ({ changes, run }) => {
      const c = change();
      await run((tx) => changes.create(tx, c));
      const approved = (who: number): RoleChange => ({ ...c, state: 'applied', approvedBy: { accountId: `acc_${String(who).padStart(22, '0')}`, email: `o${who}@bank.example` }, approvedAt: at(HOUR), version: 2 });
      const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => run((tx) => changes.decide(tx, approved(i)))));
      assert.equal(wins.filter(Boolean).length, 1, 'exactly one approval applies');
      const stored = await changes.byId(c.changeId);
      assert.equal(stored?.state, 'applied');
      assert.equal(stored?.version, 2);
      // Not pending any more: expiring it or approving it again changes nothing.
      assert.equal(await run((tx) => changes.decide(tx, { ...c, state: 'expired', version: 2 })), false);
      assert.equal(await run((tx) => changes.decide(tx, { ...c, state: 'expired', version: 3 })), false);
      // A move from the stated state with the next version (undoing an approval that was not applied).
      assert.equal(await run((tx) => changes.decide(tx, { ...c, version: 3 }, 'applied')), true);
      assert.equal((await changes.byId(c.changeId))?.state, 'pending');
    });

    backend.test('role changes: listed by state, newest first, up to the limit', async ({ changes, run }) => {
      const a = change();
      const b = change();
      const d = change({ state: 'expired' });
      for (const c of [a, b, d]) await run((tx) => changes.create(tx, c));
      const pending = (await changes.list(['pending'], 500)).filter((c) => [a, b, d].some((x) => x.changeId === c.changeId));
      assert.deepEqual(pending.map((c) => c.changeId), [b.changeId, a.changeId]);
      assert.equal((await changes.list(['pending'], 1)).length, 1);
      const both = (await changes.list(['pending', 'expired'], 500)).filter((c) => [a, b, d].some((x) => x.changeId === c.changeId));
      assert.deepEqual(both.map((c) => c.changeId), [d.changeId, b.changeId, a.changeId]);
      assert.deepEqual(await changes.list([], 10), []);
    });
  },
);
