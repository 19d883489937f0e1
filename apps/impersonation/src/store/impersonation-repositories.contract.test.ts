import assert from 'node:assert/strict';
import path from 'node:path';
import { AlreadyExistsError, type Transaction, type UnitOfWork } from '@gatehouse/core';
import { openMongo, openSqlite } from '@gatehouse/storage';
import { describeRepositoryContract } from '@gatehouse/testing';
import type { AnomalyRecord, BurstWindow, GrantRecord, ImpersonationStores } from '../domain/model.js';
import { impersonationSchema, impersonationStores } from './schema.js';

interface Ctx {
  repos: ImpersonationStores;
  /** Runs writes as the service does: inside one unit of work of the store (issue 14). */
  w: <T>(fn: (tx: Transaction) => Promise<T>) => Promise<T>;
  close(): Promise<void>;
}

const unitOf = (store: UnitOfWork): Ctx['w'] => (fn) => store.run(fn);

const T0 = Date.UTC(2026, 10, 27, 9, 0, 0);
const at = (ms: number) => new Date(T0 + ms);
const MIN = 60_000;
/** An operator object where a string belongs (what a parsed JSON request could smuggle in). */
const OPERATOR = { $ne: null } as unknown as string;
const settle = <T>(p: Promise<T>): Promise<T | 'rejected'> => p.catch(() => 'rejected' as const);
const nothing = (v: unknown) => v === undefined || v === false || v === 0 || (Array.isArray(v) && v.length === 0) || v === 'rejected';

let n = 0;
function grant(o: Partial<GrantRecord> = {}): GrantRecord {
  n += 1;
  const startedAt = o.startedAt ?? at(n * 1000);
  return {
    grantId: `gr_${String(n).padStart(16, '0')}`,
    employee: { accountId: 'acc-sam', email: 'sam@corp.example', displayName: 'Sam', roles: ['support'] },
    role: 'support',
    targetUserId: `user-${n}`,
    customerDomain: 'acme.example',
    reason: 'customer_support_case',
    justification: 'customer asked for help with the import',
    ticketRef: 'SUP-1',
    startedAt,
    expiresAt: new Date(startedAt.getTime() + 30 * MIN),
    state: 'active',
    endedAt: null,
    revokedBy: null,
    revokeReason: null,
    sessionId: 'ses-1',
    sourceIp: '127.0.0.1',
    tokenId: `itk_${n}`,
    expiryReported: false,
    ...o,
  };
}

function anomaly(o: Partial<AnomalyRecord> = {}): AnomalyRecord {
  n += 1;
  return {
    anomalyId: `an_${String(n).padStart(16, '0')}`,
    employee: { accountId: 'acc-sam', email: 'sam@corp.example', displayName: 'Sam', roles: ['support'] },
    customerDomain: 'acme.example',
    rule: { ruleId: 'impersonation.burst', distinctTargets: 3, windowMs: 60 * MIN },
    targetUserIds: ['u-1', 'u-2', 'u-3'],
    grantIds: ['gr_1', 'gr_2', 'gr_3'],
    refusedTargetUserId: 'u-4',
    openedAt: at(n * 1000),
    state: 'open',
    justification: '',
    ticketRefs: [],
    justifiedAt: null,
    resolution: null,
    resolutionNote: '',
    resolvedBy: null,
    resolvedAt: null,
    version: 1,
    ...o,
  };
}

describeRepositoryContract<Ctx>(
  'impersonation repositories',
  {
    sqlite: async (dir) => {
      const store = openSqlite({ file: path.join(dir, 'impersonation.db'), migrations: impersonationSchema.sqliteMigrations });
      return { repos: impersonationStores({ backend: 'sqlite', store }), w: unitOf(store), close: () => store.close() };
    },
    mongodb: async (url, dbName) => {
      const store = await openMongo({ url, dbName, migrations: impersonationSchema.mongoMigrations, indexes: impersonationSchema.mongoIndexes });
      return { repos: impersonationStores({ backend: 'mongodb', store }), w: unitOf(store), close: () => store.close() };
    },
    close: (ctx) => ctx.close(),
  },
  (backend) => {
    backend.test('grants round-trip; close is one conditional transition; expiry marks once; listings filter and page', async ({ repos: { grants }, w }) => {
      const g1 = grant();
      const g2 = grant({ customerDomain: 'other.example', employee: { accountId: 'acc-dana', email: 'd@corp.example', displayName: 'Dana', roles: ['developer'] }, role: 'developer' });
      const g3 = grant({ expiresAt: at(5 * MIN) });
      for (const g of [g1, g2, g3]) await w((tx) => grants.create(tx, g));
      await assert.rejects(w((tx) => grants.create(tx, g1)), AlreadyExistsError);
      assert.deepEqual(await grants.get(g1.grantId), g1);
      const now = at(10 * MIN);
      assert.deepEqual((await grants.listActive({}, now, { limit: 10 })).map((g) => g.grantId), [g1.grantId, g2.grantId], 'expired ones are not active, soonest expiry first');
      assert.deepEqual((await grants.listActive({ accountId: 'acc-dana' }, now, { limit: 10 })).map((g) => g.grantId), [g2.grantId]);
      assert.deepEqual((await grants.listActive({}, now, { limit: 1, after: { expiresAt: g1.expiresAt, grantId: g1.grantId } })).map((g) => g.grantId), [g2.grantId]);
      assert.equal(await grants.countActive('acc-sam', now), 1);
      assert.equal(await grants.countDistinctTargets('acc-sam', 'acme.example', at(0)), 2);

      const ended = await w((tx) => grants.close(tx, g1.grantId, now, { state: 'ended' }));
      assert.equal(ended?.state, 'ended');
      assert.deepEqual(ended?.endedAt, now);
      assert.equal(await w((tx) => grants.close(tx, g1.grantId, now, { state: 'revoked' })), undefined, 'closed once');
      assert.equal(await w((tx) => grants.close(tx, g3.grantId, now, { state: 'revoked' })), undefined, 'past expiry: nothing to revoke');
      const revoked = await w((tx) => grants.close(tx, g2.grantId, now, { state: 'revoked', revokedBy: { accountId: 'acc-officer', email: 'o@corp.example' }, revokeReason: 'done' }));
      assert.deepEqual([revoked?.state, revoked?.revokedBy?.accountId, revoked?.revokeReason], ['revoked', 'acc-officer', 'done']);

      const expired = await w((tx) => grants.expireDue(tx, now, 10));
      assert.deepEqual(expired.map((g) => [g.grantId, g.state, g.endedAt?.getTime()]), [[g3.grantId, 'expired', g3.expiresAt.getTime()]]);
      assert.deepEqual(await w((tx) => grants.expireDue(tx, now, 10)), [], 'expired once');
      assert.deepEqual((await grants.expiryUnreported(at(60 * MIN), 10)).map((g) => g.grantId), [g3.grantId]);
      assert.deepEqual(await grants.expiryUnreported(at(MIN), 10), [], 'only those expired before the cut-off');
      await w((tx) => grants.markExpiryReported(tx, [g3.grantId]));
      assert.deepEqual(await grants.expiryUnreported(at(60 * MIN), 10), []);
      assert.equal((await grants.get(g3.grantId))?.expiryReported, true);

      assert.deepEqual((await grants.listForDomain('acme.example', {}, { limit: 10 })).map((g) => g.grantId), [g3.grantId, g1.grantId], 'newest start first');
      assert.deepEqual((await grants.listForDomain('acme.example', { from: g3.startedAt }, { limit: 10 })).map((g) => g.grantId), [g3.grantId]);
      assert.deepEqual((await grants.listForDomain('acme.example', {}, { limit: 10, after: { at: g3.startedAt, id: g3.grantId } })).map((g) => g.grantId), [g1.grantId]);
    });

    backend.test('burst windows, anomalies and locks: compare-and-set on version; one of many concurrent writers wins', async ({ repos: { bursts, anomalies, locks }, w }) => {
      const w1: BurstWindow = { accountId: 'acc-sam', customerDomain: 'acme.example', version: 1, entries: [{ grantId: 'gr_1', targetUserId: 'u-1', startedAt: at(0) }], blockingAnomalyId: null };
      assert.equal(await bursts.get('acc-sam', 'acme.example'), undefined);
      assert.equal(await w((tx) => bursts.put(tx, w1)), true);
      assert.equal(await w((tx) => bursts.put(tx, w1)), false, 'version 1 exists already');
      assert.deepEqual(await bursts.get('acc-sam', 'acme.example'), w1);
      // 10 concurrent writers of version 2: exactly one wins.
      const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => w((tx) => bursts.put(tx, { ...w1, version: 2, entries: [...w1.entries, { grantId: `gr_${i + 2}`, targetUserId: `u-${i + 2}`, startedAt: at(i) }] }))));
      assert.equal(wins.filter(Boolean).length, 1);
      assert.equal((await bursts.get('acc-sam', 'acme.example'))?.entries.length, 2);
      assert.equal(await bursts.get('acc-sam', 'other.example'), undefined, 'per domain');

      const a = anomaly();
      await w((tx) => anomalies.create(tx, a));
      assert.deepEqual(await anomalies.get(a.anomalyId), a);
      const justified: AnomalyRecord = { ...a, state: 'justified', justification: 'because', ticketRefs: ['SUP-1'], justifiedAt: at(MIN), version: 2 };
      const racing = await Promise.all([w((tx) => anomalies.update(tx, justified)), w((tx) => anomalies.update(tx, { ...justified, justification: 'other' }))]);
      assert.equal(racing.filter(Boolean).length, 1);
      assert.equal(await w((tx) => anomalies.update(tx, justified)), false, 'stale version');
      const other = anomaly({ employee: { ...a.employee, accountId: 'acc-dana' }, customerDomain: 'other.example' });
      await w((tx) => anomalies.create(tx, other));
      assert.deepEqual((await anomalies.list({ accountId: 'acc-sam' }, { limit: 10 })).map((x) => x.anomalyId), [a.anomalyId]);
      assert.deepEqual((await anomalies.list({ states: ['open'] }, { limit: 10 })).map((x) => x.anomalyId), [other.anomalyId]);
      assert.deepEqual((await anomalies.list({}, { limit: 10 })).map((x) => x.anomalyId), [other.anomalyId, a.anomalyId], 'newest first');

      const l = { accountId: 'acc-sam', locked: true, lockedAt: at(0), anomalyId: a.anomalyId, unlockedAt: null, unlockedBy: null, version: 1 };
      assert.equal(await w((tx) => locks.put(tx, l)), true);
      assert.equal(await w((tx) => locks.put(tx, l)), false);
      assert.deepEqual(await locks.get('acc-sam'), l);
      assert.equal(await w((tx) => locks.put(tx, { ...l, locked: false, version: 2, unlockedAt: at(MIN), unlockedBy: { accountId: 'acc-officer', email: 'o@corp.example' } })), true);
      assert.equal((await locks.get('acc-sam'))?.locked, false);
    });

    backend.test('a unit that fails writes nothing: the grant, the window, the anomaly, the lock and the report roll back together', async ({ repos: { grants, bursts, anomalies, locks, access }, w }) => {
      const g = grant();
      const a = anomaly();
      const failed = await settle(
        w(async (tx) => {
          await grants.create(tx, g);
          assert.equal(await bursts.put(tx, { accountId: 'acc-unit', customerDomain: 'acme.example', version: 1, entries: [], blockingAnomalyId: a.anomalyId }), true);
          await anomalies.create(tx, a);
          assert.equal(await locks.put(tx, { accountId: 'acc-unit', locked: true, lockedAt: at(0), anomalyId: a.anomalyId, unlockedAt: null, unlockedBy: null, version: 1 }), true);
          await access.add(tx, { reportId: 'rep-unit', grantId: g.grantId, customerDomain: 'acme.example', records: [], accessedAt: at(0), recordedAt: at(0), reportedBy: 'backend:crm' });
          // Read back inside the unit: visible to it.
          assert.equal((await grants.get(g.grantId, tx))?.grantId, g.grantId);
          throw new Error('the use case failed after its writes');
        }),
      );
      assert.equal(failed, 'rejected');
      assert.equal(await grants.get(g.grantId), undefined);
      assert.equal(await bursts.get('acc-unit', 'acme.example'), undefined);
      assert.equal(await anomalies.get(a.anomalyId), undefined);
      assert.equal(await locks.get('acc-unit'), undefined);
      assert.deepEqual(await access.forGrants([g.grantId]), []);
    });

    backend.test('access reports: stored once per report id (also under concurrency); read back per grant', async ({ repos: { access }, w }) => {
      const r = { reportId: 'rep-1', grantId: 'gr_A', customerDomain: 'acme.example', records: [{ resourceType: 'contact', operation: 'read' as const, count: 2, recordIds: ['c-1', 'c-2'] }], accessedAt: at(0), recordedAt: at(1), reportedBy: 'backend:crm' };
      const results = await Promise.all(Array.from({ length: 10 }, () => w((tx) => access.add(tx, r))));
      assert.equal(results.filter((x) => !x.duplicate).length, 1);
      for (const x of results) assert.deepEqual(x.stored, r);
      await w((tx) => access.add(tx, { ...r, reportId: 'rep-2', grantId: 'gr_B' }));
      assert.deepEqual((await access.forGrants(['gr_A'])).map((x) => x.reportId), ['rep-1']);
      assert.equal((await access.forGrants(['gr_A', 'gr_B'])).length, 2);
    });

    backend.test('hostile values: operator objects match nothing and change nothing; literal "$ne" is ordinary data', async ({ repos: { grants, bursts, anomalies, locks, access }, w }) => {
      const g = grant({ targetUserId: '$ne', customerDomain: 'acme.example' });
      await w((tx) => grants.create(tx, g));
      const now = at(MIN);
      assert.ok(nothing(await settle(grants.get(OPERATOR))), 'grants.get');
      assert.ok(nothing(await settle(w((tx) => grants.close(tx, OPERATOR, now, { state: 'revoked' })))), 'grants.close');
      assert.ok(nothing(await settle(grants.listActive({ accountId: OPERATOR }, now, { limit: 10 }))), 'grants.listActive');
      assert.ok(nothing(await settle(grants.listForDomain(OPERATOR, {}, { limit: 10 }))), 'grants.listForDomain');
      assert.ok(nothing(await settle(grants.countDistinctTargets(OPERATOR, OPERATOR, at(0)))), 'grants.countDistinctTargets');
      assert.ok(nothing(await settle(grants.countActive(OPERATOR, now))), 'grants.countActive');
      assert.ok(nothing(await settle(bursts.get(OPERATOR, OPERATOR))), 'bursts.get');
      assert.ok(nothing(await settle(anomalies.get(OPERATOR))), 'anomalies.get');
      assert.ok(nothing(await settle(anomalies.list({ accountId: OPERATOR }, { limit: 10 }))), 'anomalies.list');
      assert.ok(nothing(await settle(locks.get(OPERATOR))), 'locks.get');
      assert.ok(nothing(await settle(access.forGrants([OPERATOR]))), 'access.forGrants');
      await settle(w((tx) => grants.markExpiryReported(tx, [OPERATOR])));
      assert.deepEqual(await grants.get(g.grantId), g, 'nothing changed');
      assert.equal((await grants.get(g.grantId))?.targetUserId, '$ne');
    });
  },
);
