import assert from 'node:assert/strict';
import path from 'node:path';
import type { Transaction } from '@gatehouse/core';
import { openMongo, openSqlite } from '@gatehouse/storage';
import { describeRepositoryContract } from '@gatehouse/testing';
import type { RevocationLog } from '../domain/sessions/revocation-log.js';
import { MongoRevocationLog, revocationMongoIndexes } from './mongo-revocation-log.js';
import { SqliteRevocationLog, revocationSqliteMigrations } from './sqlite-revocation-log.js';

interface Ctx {
  log: RevocationLog;
  /** The store's unit of work: every write runs inside it, as the domain's do (issue 14). */
  run<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const T0 = Date.UTC(2026, 11, 7, 9, 0, 0);
const at = (s: number) => new Date(T0 + s * 1000);

describeRepositoryContract<Ctx>(
  'revocation log',
  {
    sqlite: async (dir) => {
      const store = openSqlite({ file: path.join(dir, 'identity.db'), migrations: revocationSqliteMigrations });
      return { log: new SqliteRevocationLog(store), run: (fn) => store.run(fn), close: () => store.close() };
    },
    mongodb: async (url, dbName) => {
      const store = await openMongo({ url, dbName, migrations: [], indexes: revocationMongoIndexes });
      return { log: new MongoRevocationLog(store), run: (fn) => store.run(fn), close: () => store.close() };
    },
    close: (ctx) => ctx.close(),
  },
  (backend) => {
    backend.test('revocations: 20 parallel appends get 20 distinct increasing sequences; replay after a sequence; look-back by time', async ({ log, run }) => {
      assert.equal(await log.head(), 0);
      const appended = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          run((tx) => log.append(tx, { kind: i % 2 ? 'session' : 'account_locked', sessionId: i % 2 ? `ses-${i}` : null, accountId: `acc-${i}`, revokedAt: at(i), forgetAfter: at(3600) })),
        ),
      );
      const seqs = appended.map((e) => e.sequence).sort((a, b) => a - b);
      assert.equal(new Set(seqs).size, 20, 'no sequence handed out twice');
      assert.equal(await log.head(), seqs[19]);
      const all = await log.after(0, at(0), 100);
      assert.deepEqual(all.map((e) => e.sequence), seqs, 'ascending');
      const tail = await log.after(seqs[14] ?? 0, at(0), 100);
      assert.equal(tail.length, 5);
      assert.equal((await log.after(0, at(0), 3)).length, 3, 'limit');
      const recent = await log.revokedSince(at(18), 100);
      assert.deepEqual(recent.map((e) => e.accountId).sort(), ['acc-18', 'acc-19']);
      const one = all.find((e) => e.accountId === 'acc-3');
      assert.equal(one?.kind, 'session');
      assert.equal(one?.sessionId, 'ses-3');
      assert.equal(one?.revokedAt.getTime(), at(3).getTime());
    });

    backend.test('revocations: pruned once forgotten; the head never goes back', async ({ log, run }) => {
      await run((tx) => log.append(tx, { kind: 'session', sessionId: 'ses-a', accountId: 'acc-a', revokedAt: at(0), forgetAfter: at(60) }));
      const b = await run((tx) => log.append(tx, { kind: 'account_suspended', sessionId: null, accountId: 'acc-b', revokedAt: at(1), forgetAfter: at(7200) }));
      assert.deepEqual((await log.after(0, at(60), 10)).map((e) => e.accountId), ['acc-b'], 'a forgotten entry is not replayed');
      assert.equal(await log.prune(at(60)), 1);
      assert.equal(await log.head(), b.sequence);
      const c = await run((tx) => log.append(tx, { kind: 'session', sessionId: 'ses-c', accountId: 'acc-c', revokedAt: at(2), forgetAfter: at(7200) }));
      assert.ok(c.sequence > b.sequence, 'sequences are never reused after pruning');
    });
  },
);
