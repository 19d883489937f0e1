import assert from 'node:assert/strict';
import path from 'node:path';
import { AlreadyExistsError } from '@gatehouse/core';
import { openMongo, openSqlite } from '@gatehouse/storage';
import { describeRepositoryContract } from '@gatehouse/testing';
import type { Actor, Environment, ReleaseRecord, ReleaseRepository, ReleaseState } from '../domain/model.js';
import { eachWriteInAUnit, type WithoutTx } from '../test-support/each-write-in-a-unit.js';
import { secretsSchema, secretsStores } from './schema.js';

interface Ctx {
  repo: WithoutTx<ReleaseRepository>;
  close(): Promise<void>;
}

const T0 = Date.UTC(2026, 10, 1, 9, 0, 0);
const at = (ms: number) => new Date(T0 + ms);
const MIN = 60_000;
const HOUR = 60 * MIN;
const ALICE: Actor = { accountId: 'acc-alice', email: 'alice@bank.example' };
const BOB: Actor = { accountId: 'acc-bob', email: 'bob@bank.example' };
const CAROL: Actor = { accountId: 'acc-carol', email: 'carol@bank.example' };
const DEPLOYER = { identity: 'backend:deployer-live', ip: '10.20.30.40' };

/** An operator object where a string belongs (what a parsed JSON request could smuggle in). */
const OPERATOR = { $ne: null } as unknown as string;
/** The call's result, or 'rejected': a driver may refuse a non-string outright, which is fine too. */
const settle = <T>(p: Promise<T>): Promise<T | 'rejected'> => p.catch(() => 'rejected' as const);
/** No match, no change: nothing found, false, an empty list, or refused. */
const nothing = (v: unknown) => v === undefined || v === false || (Array.isArray(v) && v.length === 0) || v === 'rejected';

let n = 0;
/** A fresh READY live release of `payments`, created at T0 + n s (odd ms), redeemable for 15 min. */
function release(overrides: Partial<ReleaseRecord> = {}): ReleaseRecord {
  n += 1;
  const id = n.toString().padStart(4, '0');
  const createdAt = overrides.createdAt ?? at(n * 1_000 + 3);
  return {
    releaseId: `rel-${id}`,
    tokenHash: `hash-${id}`,
    environment: 'live',
    app: 'payments',
    deploymentRef: `pipeline-run-${id}`,
    state: 'ready',
    createdBy: ALICE,
    createdAt,
    expiresAt: new Date(createdAt.getTime() + 15 * MIN),
    boundCidr: null,
    boundClientIdentity: null,
    requiredApprovals: 0,
    approvals: [],
    secrets: [
      { name: 'API_KEY', version: 1 },
      { name: 'DB_PASSWORD', version: 3 },
    ],
    redeemedAt: null,
    redeemedByIdentity: null,
    redeemedFromIp: null,
    refusedRedemptionCount: 0,
    revokedAt: null,
    revokedBy: null,
    revokeReason: null,
    expiryReported: false,
    version: 1,
    ...overrides,
  };
}

/** What a release looks like once redeemed at `when` by `by`. */
const redeemed = (r: ReleaseRecord, when: Date, by: { identity: string; ip: string }): ReleaseRecord => ({
  ...r,
  state: 'redeemed',
  redeemedAt: when,
  redeemedByIdentity: by.identity,
  redeemedFromIp: by.ip,
  version: r.version + 1,
});

/** The next version of `r` with these changes (what the domain hands update()). */
const next = (r: ReleaseRecord, changes: Partial<ReleaseRecord>): ReleaseRecord => ({ ...r, ...changes, version: r.version + 1 });

const ids = (rs: ReleaseRecord[]) => rs.map((r) => r.releaseId);

/** The port's writes: each runs in a unit of work of its own, as the domain runs them. */
const WRITES: ReadonlyArray<keyof ReleaseRepository> = ['create', 'redeem', 'update', 'countRefusal'];

describeRepositoryContract<Ctx>(
  'secrets releases',
  {
    sqlite: async (dir) => {
      const store = openSqlite({ file: path.join(dir, 'secrets.db'), migrations: secretsSchema.sqliteMigrations });
      return { repo: eachWriteInAUnit(store, secretsStores({ backend: 'sqlite', store }).releases, WRITES), close: () => store.close() };
    },
    mongodb: async (url, dbName) => {
      const store = await openMongo({ url, dbName, migrations: secretsSchema.mongoMigrations, indexes: secretsSchema.mongoIndexes });
      return { repo: eachWriteInAUnit(store, secretsStores({ backend: 'mongodb', store }).releases, WRITES), close: () => store.close() };
    },
    close: (ctx) => ctx.close(),
  },
  (backend) => {
    backend.test('a release round-trips with every date (and every null), survives a restart; ids and tokens are unique', async ({ repo }, env) => {
      const plain = release();
      const approved = release({
        environment: 'staging',
        app: 'web',
        state: 'pending_approval',
        boundCidr: '2001:db8::/48',
        boundClientIdentity: 'backend:deployer-staging',
        requiredApprovals: 2,
        approvals: [{ approver: BOB, approvedAt: at(HOUR + 11), note: 'change CHG-1234 approved' }],
        secrets: [{ name: 'SESSION_KEY', version: 7 }],
        version: 2,
      });
      const done = redeemed(release({ refusedRedemptionCount: 2, expiryReported: true }), at(HOUR + 999), DEPLOYER);
      const revoked = release({ state: 'revoked', revokedAt: at(2 * HOUR + 1), revokedBy: CAROL, revokeReason: 'wrong deployment', version: 3 });
      const all = [plain, approved, done, revoked];
      for (const r of all) await repo.create(r);

      for (const r of all) {
        assert.deepEqual(await repo.get(r.releaseId), r, `${r.releaseId} by id`);
        assert.deepEqual(await repo.byTokenHash(r.tokenHash), r, `${r.releaseId} by token hash`);
      }
      const got = await repo.get(approved.releaseId);
      assert.ok(got?.createdAt instanceof Date && got.expiresAt instanceof Date && got.approvals[0]?.approvedAt instanceof Date, 'dates come back as Dates');
      assert.equal(got.approvals[0].approvedAt.getTime(), at(HOUR + 11).getTime(), 'to the millisecond');
      assert.ok((await repo.get(done.releaseId))?.redeemedAt instanceof Date, 'redeemedAt is a Date');
      assert.ok((await repo.get(revoked.releaseId))?.revokedAt instanceof Date, 'revokedAt is a Date');
      assert.equal(await repo.get('rel-missing'), undefined);
      assert.equal(await repo.byTokenHash('hash-missing'), undefined);
      assert.equal(await repo.byTokenHash(plain.releaseId), undefined, 'an id is not a token hash');
      assert.equal(await repo.get(plain.tokenHash), undefined, 'nor the other way round');

      await assert.rejects(repo.create(release({ releaseId: plain.releaseId })), AlreadyExistsError, 'a duplicate id');
      await assert.rejects(repo.create(release({ tokenHash: plain.tokenHash })), AlreadyExistsError, 'a duplicate token hash');
      assert.deepEqual(await repo.list({}, { limit: 10 }).then(ids), ids([revoked, done, approved, plain]), 'the refused ones left no trace');

      const reopened = await env.reopen();
      for (const r of all) assert.deepEqual(await reopened.repo.get(r.releaseId), r, 'durable across a restart');
    });

    backend.test('redeem: of 100 concurrent calls on one token exactly one gets the record, the others undefined', { timeout: 120_000 }, async ({ repo }) => {
      const r = release({ boundCidr: '10.20.30.0/24' });
      const other = release();
      await repo.create(r);
      await repo.create(other);
      const now = at(5 * MIN + 17);

      const callers = Array.from({ length: 100 }, (_, i) => ({ identity: `backend:deployer-${i}`, ip: `10.20.30.${i}` }));
      const results = await Promise.all(callers.map((by) => repo.redeem(r.tokenHash, now, by)));
      const winners = results.filter((x) => x !== undefined);
      assert.equal(winners.length, 1, 'exactly one redemption');
      assert.equal(results.filter((x) => x === undefined).length, 99, 'the other 99 get nothing');
      const by = callers[results.findIndex((x) => x !== undefined)]!;
      const expected = redeemed(r, now, by);
      assert.deepEqual(winners[0], expected, 'the returned record is the redeemed one: state, when, who, from where, version + 1');
      assert.ok(winners[0]?.redeemedAt instanceof Date, 'redeemedAt is a Date');
      assert.deepEqual(await repo.get(r.releaseId), expected, 'and that is what is stored');
      assert.deepEqual(await repo.byTokenHash(r.tokenHash), expected);

      assert.equal(await repo.redeem(r.tokenHash, at(6 * MIN), DEPLOYER), undefined, 'a second redemption, later');
      assert.deepEqual(await repo.get(r.releaseId), expected, 'changed nothing');
      assert.deepEqual(await repo.get(other.releaseId), other, 'other releases untouched');
      assert.deepEqual(await repo.redeem(other.tokenHash, now, DEPLOYER), redeemed(other, now, DEPLOYER), 'each token on its own');
    });

    backend.test('redeem never takes an expired, pending, revoked, redeemed or unknown release', async ({ repo }) => {
      const now = at(HOUR);
      const expiredReady = release({ expiresAt: at(HOUR - 1) });
      const expiresNow = release({ expiresAt: now });
      const pending = release({ state: 'pending_approval', requiredApprovals: 1, expiresAt: at(2 * HOUR) });
      const revoked = release({ state: 'revoked', revokedAt: at(MIN), revokedBy: CAROL, revokeReason: 'x', expiresAt: at(2 * HOUR), version: 2 });
      const expiredState = release({ state: 'expired', expiresAt: at(2 * HOUR), version: 2 });
      const done = redeemed(release({ expiresAt: at(2 * HOUR) }), at(MIN), DEPLOYER);
      const refused = [expiredReady, expiresNow, pending, revoked, expiredState, done];
      for (const r of refused) await repo.create(r);

      for (const r of refused) {
        assert.equal(await repo.redeem(r.tokenHash, now, DEPLOYER), undefined, `${r.releaseId} (${r.state}) is not redeemed`);
        assert.deepEqual(await repo.get(r.releaseId), r, `${r.releaseId} unchanged`);
      }
      assert.equal(await repo.redeem('hash-unknown', now, DEPLOYER), undefined, 'unknown token');
      assert.equal(await repo.redeem(pending.releaseId, now, DEPLOYER), undefined, 'an id is not a token');

      const justInTime = release({ expiresAt: new Date(now.getTime() + 1) });
      await repo.create(justInTime);
      assert.deepEqual(await repo.redeem(justInTime.tokenHash, now, DEPLOYER), redeemed(justInTime, now, DEPLOYER), 'one millisecond before expiry is still in time');
    });

    backend.test('update is a compare-and-set on the version: a stale writer changes nothing, one of 10 wins', async ({ repo }) => {
      const r = release({ state: 'pending_approval', requiredApprovals: 2 });
      await repo.create(r);
      const one = next(r, { approvals: [{ approver: BOB, approvedAt: at(MIN), note: 'ok' }] });
      assert.equal(await repo.update(one), true);
      assert.deepEqual(await repo.get(r.releaseId), one);
      assert.equal(await repo.update(next(r, { approvals: [{ approver: CAROL, approvedAt: at(MIN), note: 'me too' }] })), false, 'built on version 1: loses');
      assert.equal(await repo.update({ ...next(one, {}), version: 4 }), false, 'skipping a version is no match either');
      assert.deepEqual(await repo.get(r.releaseId), one, 'the losing writes left no trace');

      const racers = Array.from({ length: 10 }, (_, i) =>
        next(one, { state: 'ready', approvals: [...one.approvals, { approver: { accountId: `acc-${i}`, email: `a${i}@bank.example` }, approvedAt: at(2 * MIN + i), note: `n${i}` }] }),
      );
      const wins = await Promise.all(racers.map((x) => repo.update(x)));
      assert.equal(wins.filter(Boolean).length, 1, 'exactly one racer wins');
      const winner = racers[wins.indexOf(true)]!;
      assert.deepEqual(await repo.get(r.releaseId), winner);
      assert.ok((await repo.get(r.releaseId))?.approvals[1]?.approvedAt instanceof Date, 'approval dates stay Dates');

      // A revocation read before a redemption loses to it.
      const ready = release();
      await repo.create(ready);
      const readBefore = (await repo.get(ready.releaseId))!;
      assert.ok(await repo.redeem(ready.tokenHash, at(MIN), DEPLOYER), 'redeemed');
      assert.equal(await repo.update(next(readBefore, { state: 'revoked', revokedAt: at(MIN), revokedBy: CAROL, revokeReason: 'late' })), false);
      assert.equal((await repo.get(ready.releaseId))?.state, 'redeemed');
      assert.equal(await repo.update(next(release(), {})), false, 'unknown release');
    });

    backend.test('countRefusal counts atomically in any state, never bumps the version, and update keeps the count', async ({ repo }) => {
      const r = release();
      await repo.create(r);
      await Promise.all(Array.from({ length: 20 }, () => repo.countRefusal(r.releaseId)));
      assert.deepEqual(await repo.get(r.releaseId), { ...r, refusedRedemptionCount: 20 }, '20 refusals, nothing else changed');

      const revoked = next(r, { state: 'revoked', revokedAt: at(MIN), revokedBy: CAROL, revokeReason: 'leaked token' });
      assert.equal(await repo.update(revoked), true, 'refusals do not make a read stale');
      assert.deepEqual(await repo.get(r.releaseId), { ...revoked, refusedRedemptionCount: 20 }, 'an update built on an older read keeps the count');
      await repo.countRefusal(r.releaseId);
      assert.equal((await repo.get(r.releaseId))?.refusedRedemptionCount, 21, 'counted on a revoked release too');

      const done = release();
      await repo.create(done);
      await repo.countRefusal(done.releaseId);
      const got = await repo.redeem(done.tokenHash, at(MIN), DEPLOYER);
      assert.deepEqual(got, { ...redeemed(done, at(MIN), DEPLOYER), refusedRedemptionCount: 1 }, 'redeem returns the count too');
      await Promise.all([repo.countRefusal(done.releaseId), repo.countRefusal(done.releaseId)]);
      assert.deepEqual(await repo.get(done.releaseId), { ...redeemed(done, at(MIN), DEPLOYER), refusedRedemptionCount: 3 });

      await repo.countRefusal('rel-missing');
      assert.equal(await repo.get('rel-missing'), undefined, 'an unknown id creates nothing');
    });

    backend.test('list: newest first, by environment, app and states, in keyset pages', async ({ repo }) => {
      const mk = (ms: number, o: Partial<ReleaseRecord> = {}) => release({ createdAt: at(ms), ...o });
      const r1 = mk(1 * MIN);
      const r2 = mk(2 * MIN, { state: 'pending_approval', requiredApprovals: 1 });
      const tieA = mk(3 * MIN, { releaseId: 'rel-tie-a' });
      const tieB = mk(3 * MIN, { releaseId: 'rel-tie-b', state: 'revoked', revokedAt: at(4 * MIN), revokedBy: CAROL, revokeReason: 'x', version: 2 });
      const r5 = redeemed(mk(5 * MIN), at(6 * MIN), DEPLOYER);
      const web = mk(6 * MIN, { app: 'web' });
      const staging = mk(7 * MIN, { environment: 'staging' });
      const all = [r1, r2, tieA, tieB, r5, web, staging];
      for (const r of [tieB, r1, staging, r5, tieA, web, r2]) await repo.create(r);

      const newestFirst = [staging, web, r5, tieB, tieA, r2, r1];
      assert.deepEqual(await repo.list({}, { limit: 20 }), newestFirst, 'whole records, newest first, the id breaking the tie');
      assert.deepEqual(ids(await repo.list({ environment: 'live' }, { limit: 20 })), ids([web, r5, tieB, tieA, r2, r1]));
      assert.deepEqual(ids(await repo.list({ environment: 'live', app: 'payments' }, { limit: 20 })), ids([r5, tieB, tieA, r2, r1]));
      assert.deepEqual(ids(await repo.list({ app: 'web' }, { limit: 20 })), ids([web]));
      assert.deepEqual(ids(await repo.list({ states: ['ready'] }, { limit: 20 })), ids([staging, web, tieA, r1]));
      assert.deepEqual(ids(await repo.list({ states: ['pending_approval', 'revoked', 'redeemed'] }, { limit: 20 })), ids([r5, tieB, r2]));
      assert.deepEqual(ids(await repo.list({ states: ['ready', 'ready'] }, { limit: 20 })), ids([staging, web, tieA, r1]), 'a repeated state is one');
      assert.deepEqual(ids(await repo.list({ states: [] }, { limit: 20 })), ids(newestFirst), 'no states: any state');
      assert.deepEqual(ids(await repo.list({ states: ['expired'] }, { limit: 20 })), []);
      assert.deepEqual(ids(await repo.list({ environment: 'staging', app: 'payments', states: ['ready'] }, { limit: 20 })), ids([staging]));
      assert.deepEqual(ids(await repo.list({ deploymentRef: web.deploymentRef }, { limit: 20 })), ids([web]), 'one deployment');
      assert.deepEqual(ids(await repo.list({ deploymentRef: OPERATOR }, { limit: 20 }).catch(() => [])), [], 'an operator object matches nothing');
      assert.deepEqual(ids(await repo.list({ createdFrom: at(3 * MIN), createdTo: at(6 * MIN) }, { limit: 20 })), ids([r5, tieB, tieA]), 'from inclusive, to exclusive');
      assert.deepEqual(ids(await repo.list({ createdTo: at(2 * MIN) }, { limit: 20 })), ids([r1]));
      assert.deepEqual(await repo.list({}, { limit: 0 }), [], 'a page of nothing');
      assert.equal(all.length, newestFirst.length);

      // Two pages of 3 and the rest; the second boundary falls between the two releases sharing a createdAt.
      const page1 = await repo.list({}, { limit: 3 });
      assert.deepEqual(ids(page1), ids(newestFirst.slice(0, 3)));
      const cursor = (rs: ReleaseRecord[]) => ({ createdAt: rs[rs.length - 1]!.createdAt, releaseId: rs[rs.length - 1]!.releaseId });
      const page2 = await repo.list({}, { after: cursor(page1), limit: 3 });
      assert.deepEqual(ids(page2), ids(newestFirst.slice(3, 6)));
      const page2b = await repo.list({}, { after: { createdAt: tieB.createdAt, releaseId: tieB.releaseId }, limit: 3 });
      assert.deepEqual(ids(page2b), ids([tieA, r2, r1]), 'after the first of a tie comes the second');
      const page3 = await repo.list({}, { after: cursor(page2), limit: 3 });
      assert.deepEqual(ids(page3), ids([r1]));
      assert.deepEqual(await repo.list({}, { after: cursor(page3), limit: 3 }), []);

      // Filtered paging: live READY releases, pages of 2.
      const f1 = await repo.list({ environment: 'live', states: ['ready'] }, { limit: 2 });
      const f2 = await repo.list({ environment: 'live', states: ['ready'] }, { after: cursor(f1), limit: 2 });
      assert.deepEqual([...ids(f1), ...ids(f2)], ids([web, tieA, r1]));
    });

    backend.test('dueForExpiry: PENDING_APPROVAL or READY past expiry, and EXPIRED not yet reported, soonest first', async ({ repo }) => {
      const now = at(HOUR);
      const pendingPast = release({ state: 'pending_approval', requiredApprovals: 2, expiresAt: at(10 * MIN) });
      const readyNow = release({ expiresAt: now });
      const readyPast = release({ expiresAt: at(20 * MIN) });
      const readyFuture = release({ expiresAt: at(HOUR + 1) });
      const pendingFuture = release({ state: 'pending_approval', requiredApprovals: 1, expiresAt: at(2 * HOUR) });
      const expiredUnreported = release({ state: 'expired', expiresAt: at(5 * MIN), version: 2 });
      const expiredReported = release({ state: 'expired', expiresAt: at(MIN), expiryReported: true, version: 3 });
      const redeemedPast = redeemed(release({ expiresAt: at(MIN) }), at(30_000), DEPLOYER);
      const revokedPast = release({ state: 'revoked', revokedAt: at(30_000), revokedBy: CAROL, revokeReason: 'x', expiresAt: at(MIN), version: 2 });
      for (const r of [readyFuture, readyNow, expiredReported, pendingPast, redeemedPast, expiredUnreported, readyPast, pendingFuture, revokedPast]) await repo.create(r);

      const due = [expiredUnreported, pendingPast, readyPast, readyNow];
      assert.deepEqual(await repo.dueForExpiry(now, 10), due, 'whole records, soonest expiry first; expiresAt == now is due');
      assert.deepEqual(ids(await repo.dueForExpiry(now, 2)), ids(due.slice(0, 2)), 'up to the limit');
      assert.deepEqual(await repo.dueForExpiry(now, 0), []);
      assert.deepEqual(ids(await repo.dueForExpiry(at(0), 10)), ids([expiredUnreported]), 'before anything expires, only the unreported one');

      // The sweeper expires one and reports it; the reported one is no longer due.
      assert.equal(await repo.update(next(pendingPast, { state: 'expired' })), true);
      assert.deepEqual(ids(await repo.dueForExpiry(now, 10)), ids(due), 'expired, not yet reported: still due');
      assert.equal(await repo.update(next(next(pendingPast, { state: 'expired' }), { expiryReported: true })), true);
      assert.equal(await repo.update(next(expiredUnreported, { expiryReported: true })), true);
      assert.deepEqual(ids(await repo.dueForExpiry(now, 10)), ids([readyPast, readyNow]));
      assert.ok(await repo.redeem(readyNow.tokenHash, new Date(now.getTime() - 1), DEPLOYER), 'redeemed just in time');
      assert.deepEqual(ids(await repo.dueForExpiry(now, 10)), ids([readyPast]));
    });

    backend.test('operator-like ids and values are plain strings: nothing is matched or changed', async ({ repo }) => {
      const odd = release({ releaseId: '{"$ne":null}', tokenHash: '{"$gt":""}', app: '$ne', deploymentRef: '{"$where":"1"}' });
      const plain = release();
      await repo.create(odd);
      await repo.create(plain);
      const now = at(MIN);

      assert.equal(await repo.get('$ne'), undefined);
      assert.equal(await repo.get('{"$gt":""}'), undefined, 'a token hash is not an id');
      assert.deepEqual(await repo.get('{"$ne":null}'), odd, 'the literal id is ordinary data');
      assert.equal(await repo.byTokenHash('$ne'), undefined);
      assert.equal(await repo.byTokenHash('{"$ne":null}'), undefined);
      assert.deepEqual(await repo.byTokenHash('{"$gt":""}'), odd);
      assert.equal(await repo.redeem('$ne', now, DEPLOYER), undefined);
      assert.equal(await repo.redeem('{"$ne":null}', now, DEPLOYER), undefined);
      assert.equal(await repo.update(next(plain, { releaseId: '$ne', state: 'revoked' })), false);
      assert.equal(await repo.update(next(plain, { releaseId: '{"$gt":""}', state: 'revoked' })), false);
      await repo.countRefusal('$ne');
      await repo.countRefusal('{"$gt":""}');
      assert.deepEqual(await repo.list({ app: '{"$gt":""}' }, { limit: 10 }), []);
      assert.deepEqual(await repo.list({ environment: '$ne' as Environment }, { limit: 10 }), []);
      assert.deepEqual(await repo.list({ states: ['$ne' as ReleaseState] }, { limit: 10 }), [], 'an unknown state matches nothing');
      assert.deepEqual(ids(await repo.list({ app: '$ne' }, { limit: 10 })), ids([odd]), 'the literal app is ordinary data');

      assert.ok(nothing(await settle(repo.get(OPERATOR))), 'get: operator objects match nothing');
      assert.ok(nothing(await settle(repo.byTokenHash(OPERATOR))), 'byTokenHash');
      assert.ok(nothing(await settle(repo.redeem(OPERATOR, now, DEPLOYER))), 'redeem');
      assert.ok(nothing(await settle(repo.update(next(plain, { releaseId: OPERATOR, state: 'revoked' })))), 'update: id');
      assert.ok(nothing(await settle(repo.update({ ...next(plain, { state: 'revoked' }), version: OPERATOR as unknown as number }))), 'update: version');
      assert.ok(nothing(await settle(repo.countRefusal(OPERATOR))), 'countRefusal');
      assert.ok(nothing(await settle(repo.list({ app: OPERATOR }, { limit: 10 }))), 'list: app');
      assert.ok(nothing(await settle(repo.list({ environment: OPERATOR as Environment }, { limit: 10 }))), 'list: environment');
      assert.ok(nothing(await settle(repo.list({ states: [OPERATOR as ReleaseState] }, { limit: 10 }))), 'list: states');

      assert.deepEqual(await repo.get(plain.releaseId), plain, 'nothing was redeemed, counted or changed');
      assert.deepEqual(await repo.get(odd.releaseId), odd);

      const by = { identity: '{"$ne":null}', ip: '$ne' };
      assert.deepEqual(await repo.redeem('{"$gt":""}', now, by), redeemed(odd, now, by), 'only the release with that literal token, its redeemer stored as text');
      await repo.countRefusal('{"$ne":null}');
      assert.equal((await repo.get('{"$ne":null}'))?.refusedRedemptionCount, 1);
      assert.deepEqual(await repo.get(plain.releaseId), plain);
    });
  },
);
