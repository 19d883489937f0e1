import assert from 'node:assert/strict';
import path from 'node:path';
import { AlreadyExistsError, type Transaction } from '@gatehouse/core';
import { openMongo, openSqlite } from '@gatehouse/storage';
import { describeRepositoryContract } from '@gatehouse/testing';
import type { Actor } from '../domain/accounts/account.js';
import { sessionStatus, type SessionRecord, type SessionRepository } from '../domain/sessions/session-record.js';
import { MongoSessionRepository, sessionMongoIndexes } from './mongo-session-repository.js';
import { SqliteSessionRepository, sessionSqliteMigrations } from './sqlite-session-repository.js';

interface Ctx {
  repo: SessionRepository;
  /** The store's unit of work: every write runs inside it, as the domain's do (issue 14). */
  run<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const T0 = Date.UTC(2026, 10, 1, 9, 0, 0);
const at = (ms: number) => new Date(T0 + ms);
const MIN = 60_000;
const HOUR = 60 * MIN;
const OFFICER: Actor = { accountId: 'acc-off', email: 'officer@bank.example' };

/** An operator object where a string belongs (what a parsed JSON request could smuggle in). */
const OPERATOR = { $ne: null } as unknown as string;
/** The call's result, or 'rejected': a driver may refuse a non-string outright, which is fine too. */
const settle = <T>(p: Promise<T>): Promise<T | 'rejected'> => p.catch(() => 'rejected' as const);
/** No match, no change: nothing found, false, a zero count, an empty list, or refused. */
const nothing = (v: unknown) => v === undefined || v === false || v === 0 || (Array.isArray(v) && v.length === 0) || v === 'rejected';

let n = 0;
/** A fresh, active session signed in at T0 + n s: 30 min inactivity, 12 h absolute. */
function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  n += 1;
  const authTime = overrides.authTime ?? at(n * 1_000);
  return {
    sessionId: `sess-${n.toString().padStart(4, '0')}`,
    accountId: 'acc-1',
    email: 'user1@bank.example',
    roles: ['manager', 'team_lead'],
    scope: 'full',
    amr: ['google', 'sms', 'totp'],
    pinnedIp: '203.0.113.7',
    authTime,
    issuedAt: authTime,
    expiresAt: new Date(authTime.getTime() + 30 * MIN),
    absoluteExpiresAt: new Date(authTime.getTime() + 12 * HOUR),
    liveExpiresAt: new Date(authTime.getTime() + 15 * MIN),
    stagingExpiresAt: new Date(authTime.getTime() + 30 * MIN),
    keyId: 'key-1',
    lastRefreshedAt: null,
    revokedAt: null,
    revokedBy: null,
    revokeReason: null,
    version: 1,
    ...overrides,
  };
}

/** What the record looks like after a refresh at `when` (one version later). */
function refreshed(r: SessionRecord, when: Date): SessionRecord {
  return { ...r, issuedAt: when, lastRefreshedAt: when, expiresAt: new Date(when.getTime() + 30 * MIN), keyId: 'key-2', version: r.version + 1 };
}

const ids = (rs: SessionRecord[]) => rs.map((r) => r.sessionId);

describeRepositoryContract<Ctx>(
  'sessions',
  {
    sqlite: async (dir) => {
      const store = openSqlite({ file: path.join(dir, 'identity.db'), migrations: sessionSqliteMigrations });
      return { repo: new SqliteSessionRepository(store), run: (fn) => store.run(fn), close: () => store.close() };
    },
    mongodb: async (url, dbName) => {
      const store = await openMongo({ url, dbName, migrations: [], indexes: sessionMongoIndexes });
      return { repo: new MongoSessionRepository(store), run: (fn) => store.run(fn), close: () => store.close() };
    },
    close: (ctx) => ctx.close(),
  },
  (backend) => {
    backend.test('a record round-trips with every date (and every null), and ids are unique', async ({ repo, run }) => {
      const base = session();
      const full = refreshed(base, at(10 * MIN));
      await run((tx) => repo.create(tx, full));
      const got = await repo.get(full.sessionId);
      assert.deepEqual(got, full);
      for (const k of ['authTime', 'issuedAt', 'expiresAt', 'absoluteExpiresAt', 'liveExpiresAt', 'stagingExpiresAt', 'lastRefreshedAt'] as const) {
        assert.ok(got?.[k] instanceof Date, `${k} is a Date`);
      }
      const limited = session({ scope: 'register-ip', roles: ['support'], amr: ['google', 'sms', 'hotp'], liveExpiresAt: null, stagingExpiresAt: null });
      await run((tx) => repo.create(tx, limited));
      assert.deepEqual(await repo.get(limited.sessionId), limited);

      const revoked = session({ revokedAt: at(HOUR), revokedBy: OFFICER, revokeReason: 'lost laptop', version: 3 });
      await run((tx) => repo.create(tx, revoked));
      const gotRevoked = await repo.get(revoked.sessionId);
      assert.deepEqual(gotRevoked, revoked);
      assert.ok(gotRevoked?.revokedAt instanceof Date);

      assert.equal(await repo.get('sess-missing'), undefined);
      await assert.rejects(run((tx) => repo.create(tx, session({ sessionId: full.sessionId }))), AlreadyExistsError);
    });

    backend.test('a refresh is compare-and-set on the version: a stale writer changes nothing, one of 10 wins', async ({ repo, run }) => {
      const s = session();
      await run((tx) => repo.create(tx, s));
      const r1 = refreshed(s, at(5 * MIN));
      assert.equal(await run((tx) => repo.update(tx, r1)), true);
      assert.equal(await run((tx) => repo.update(tx, refreshed(s, at(6 * MIN)))), false, 'a refresh built on version 1 loses');
      assert.deepEqual(await repo.get(s.sessionId), r1, 'the losing write left no trace');
      assert.equal(await run((tx) => repo.update(tx, { ...refreshed(r1, at(7 * MIN)), version: 4 })), false, 'skipping a version is no match either');

      const racers = Array.from({ length: 10 }, (_, i) => refreshed(r1, at(10 * MIN + i * 1_000)));
      const wins = await Promise.all(racers.map((r) => run((tx) => repo.update(tx, r))));
      assert.equal(wins.filter(Boolean).length, 1);
      assert.deepEqual(await repo.get(s.sessionId), racers[wins.indexOf(true)]);
    });

    backend.test('revoke wins over a racing refresh: an update after a revoke returns false and never resurrects', async ({ repo, run }) => {
      const s = session();
      await run((tx) => repo.create(tx, s));
      const readBeforeRevoke = (await repo.get(s.sessionId))!;
      assert.equal(await run((tx) => repo.revoke(tx, s.sessionId, at(HOUR), OFFICER, 'suspicious activity')), true);
      assert.equal(await run((tx) => repo.revoke(tx, s.sessionId, at(2 * HOUR), null, 'again')), false, 'only the first revocation counts');

      const expected: SessionRecord = { ...s, revokedAt: at(HOUR), revokedBy: OFFICER, revokeReason: 'suspicious activity', version: 2 };
      assert.deepEqual(await repo.get(s.sessionId), expected, 'the revocation is stored and bumps the version');

      assert.equal(await run((tx) => repo.update(tx, refreshed(readBeforeRevoke, at(HOUR + 1)))), false, 'the refresh that read before the revoke loses');
      const revokedNow = (await repo.get(s.sessionId))!;
      assert.equal(await run((tx) => repo.update(tx, { ...refreshed(revokedNow, at(HOUR + 2)), revokedAt: null, revokedBy: null, revokeReason: null })), false, 'even with the current version, a revoked record is never updated');
      assert.deepEqual(await repo.get(s.sessionId), expected);
      assert.equal(sessionStatus(expected, at(0)), 'revoked');

      // Both at once, in either order: the record ends up revoked.
      const t = session();
      await run((tx) => repo.create(tx, t));
      const [updated, revokedFirst] = await Promise.all([run((tx) => repo.update(tx, refreshed(t, at(5 * MIN)))), run((tx) => repo.revoke(tx, t.sessionId, at(5 * MIN), null, 'sign-out'))]);
      assert.equal(revokedFirst, true);
      const final = (await repo.get(t.sessionId))!;
      assert.deepEqual(final.revokedAt, at(5 * MIN));
      assert.equal(final.revokedBy, null);
      assert.equal(final.revokeReason, 'sign-out');
      assert.equal(final.version, updated ? 3 : 2);
    });

    backend.test('revokeAllForAccount revokes the live and inactivity-expired ones, skips revoked, absolute-expired and other accounts', async ({ repo, run }) => {
      const when = at(13 * HOUR);
      const live = session({ authTime: at(12 * HOUR), absoluteExpiresAt: at(24 * HOUR) });
      const idle = session({ authTime: at(2 * HOUR), absoluteExpiresAt: at(14 * HOUR) }); // expiresAt long past, absolute not
      const absoluteGone = session({ authTime: at(0), absoluteExpiresAt: at(12 * HOUR) });
      const absoluteNow = session({ authTime: at(1_000), absoluteExpiresAt: when });
      const alreadyRevoked = session({ authTime: at(11 * HOUR), revokedAt: at(11 * HOUR + 1), revokedBy: null, revokeReason: 'signed out', version: 2 });
      const otherAccount = session({ accountId: 'acc-2', authTime: at(12 * HOUR) });
      for (const s of [live, idle, absoluteGone, absoluteNow, alreadyRevoked, otherAccount]) await run((tx) => repo.create(tx, s));

      assert.equal(await run((tx) => repo.revokeAllForAccount(tx, 'acc-1', when, OFFICER, 'account suspended')), 2);
      for (const s of [live, idle]) {
        assert.deepEqual(await repo.get(s.sessionId), { ...s, revokedAt: when, revokedBy: OFFICER, revokeReason: 'account suspended', version: s.version + 1 });
      }
      for (const s of [absoluteGone, absoluteNow, alreadyRevoked, otherAccount]) assert.deepEqual(await repo.get(s.sessionId), s, `${s.sessionId} untouched`);
      assert.equal(await run((tx) => repo.revokeAllForAccount(tx, 'acc-1', when, null, 'again')), 0, 'nothing left to revoke');
      assert.equal(await run((tx) => repo.revokeAllForAccount(tx, 'acc-none', when, null, 'nobody')), 0);
    });

    backend.test('list filters by account and by status at `now`, newest first, and pages by cursor', async ({ repo, run }) => {
      const now = at(HOUR);
      // acc-1: authTime ascending with n; two share an authTime so the id breaks the tie across pages.
      const expired = session({ authTime: at(0), expiresAt: at(30 * MIN) });
      const expiresNow = session({ authTime: at(MIN), expiresAt: now });
      const active1 = session({ authTime: at(2 * MIN), expiresAt: at(2 * HOUR) });
      const tieA = session({ sessionId: 'sess-tie-a', authTime: at(3 * MIN), expiresAt: at(2 * HOUR) });
      const tieB = session({ sessionId: 'sess-tie-b', authTime: at(3 * MIN), expiresAt: at(2 * HOUR), revokedAt: at(50 * MIN), revokedBy: OFFICER, revokeReason: 'x', version: 2 });
      const revokedAndExpired = session({ authTime: at(4 * MIN), expiresAt: at(10 * MIN), revokedAt: at(5 * MIN), revokedBy: null, revokeReason: 'signed out', version: 2 });
      const active2 = session({ authTime: at(5 * MIN), expiresAt: at(2 * HOUR) });
      const other = session({ accountId: 'acc-2', authTime: at(6 * MIN), expiresAt: at(2 * HOUR) });
      const all = [expired, expiresNow, active1, tieA, tieB, revokedAndExpired, active2, other];
      for (const s of all) await run((tx) => repo.create(tx, s));

      const acc1NewestFirst = [active2, revokedAndExpired, tieB, tieA, active1, expiresNow, expired];
      const p = { limit: 20 };
      assert.deepEqual(ids(await repo.list({ accountId: 'acc-1', now }, p)), ids(acc1NewestFirst));
      assert.deepEqual(ids(await repo.list({ accountId: 'acc-1', statuses: [], now }, p)), ids(acc1NewestFirst), 'empty statuses: all');
      assert.deepEqual(ids(await repo.list({ accountId: 'acc-1', statuses: ['active'], now }, p)), ids([active2, tieA, active1]));
      assert.deepEqual(ids(await repo.list({ accountId: 'acc-1', statuses: ['expired'], now }, p)), ids([expiresNow, expired]), 'expiresAt == now is expired; revoked wins over expired');
      assert.deepEqual(ids(await repo.list({ accountId: 'acc-1', statuses: ['revoked'], now }, p)), ids([revokedAndExpired, tieB]));
      assert.deepEqual(ids(await repo.list({ accountId: 'acc-1', statuses: ['revoked', 'active'], now }, p)), ids([active2, revokedAndExpired, tieB, tieA, active1]));
      assert.deepEqual(ids(await repo.list({ statuses: ['active'], now }, p)), ids([other, active2, tieA, active1]), 'no account filter: every account');
      assert.deepEqual(ids(await repo.list({ statuses: ['active'], now: at(0) }, p)), ids([other, active2, tieA, active1, expiresNow, expired]), 'status is evaluated at filter.now');
      for (const s of await repo.list({ now }, p)) assert.deepEqual(s, all.find((x) => x.sessionId === s.sessionId), 'listed records are whole');

      // Two pages of 4 over acc-1's 7, the boundary between the two sessions sharing an authTime.
      const page1 = await repo.list({ accountId: 'acc-1', now }, { limit: 4 });
      assert.deepEqual(ids(page1), ids(acc1NewestFirst.slice(0, 4)));
      const last = page1[page1.length - 1]!;
      const page2 = await repo.list({ accountId: 'acc-1', now }, { after: { authTime: last.authTime, sessionId: last.sessionId }, limit: 4 });
      assert.deepEqual(ids(page2), ids(acc1NewestFirst.slice(4)));
      const end = page2[page2.length - 1]!;
      assert.deepEqual(await repo.list({ accountId: 'acc-1', now }, { after: { authTime: end.authTime, sessionId: end.sessionId }, limit: 4 }), []);

      // Filtered paging: active only, pages of 2.
      const a1 = await repo.list({ accountId: 'acc-1', statuses: ['active'], now }, { limit: 2 });
      const a2 = await repo.list({ accountId: 'acc-1', statuses: ['active'], now }, { after: { authTime: a1[1]!.authTime, sessionId: a1[1]!.sessionId }, limit: 2 });
      assert.deepEqual([...ids(a1), ...ids(a2)], ids([active2, tieA, active1]));
    });

    backend.test('hasUsedIp: only this account, only this IP', async ({ repo, run }) => {
      await run((tx) => repo.create(tx, session({ pinnedIp: '198.51.100.1' })));
      await run((tx) => repo.create(tx, session({ accountId: 'acc-2', pinnedIp: '192.0.2.9' })));
      assert.equal(await repo.hasUsedIp('acc-1', '198.51.100.1'), true);
      assert.equal(await repo.hasUsedIp('acc-1', '192.0.2.9'), false, "another account's IP is new for this one");
      assert.equal(await repo.hasUsedIp('acc-2', '198.51.100.1'), false);
      assert.equal(await repo.hasUsedIp('acc-3', '198.51.100.1'), false);
      assert.equal(await repo.hasUsedIp('acc-1', '198.51.100.10'), false, 'exact match, not prefix');
    });

    backend.test('operator-like ids and values are plain strings: nothing is matched or changed', async ({ repo, run }) => {
      const odd = session({ sessionId: '{"$ne":null}', accountId: '{"$ne":null}', pinnedIp: '{"$gt":""}' });
      const plain = session();
      await run((tx) => repo.create(tx, odd));
      await run((tx) => repo.create(tx, plain));
      const now = at(0);

      assert.equal(await repo.get('$ne'), undefined);
      assert.equal(await repo.get('{"$gt":""}'), undefined);
      assert.deepEqual(await repo.get('{"$ne":null}'), odd);
      assert.equal(await run((tx) => repo.revoke(tx, '$ne', now, null, 'x')), false);
      assert.equal(await run((tx) => repo.revoke(tx, '{"$gt":""}', now, null, 'x')), false);
      assert.equal(await run((tx) => repo.revokeAllForAccount(tx, '$ne', now, null, 'x')), 0);
      assert.equal(await run((tx) => repo.revokeAllForAccount(tx, '{"$gt":""}', now, null, 'x')), 0);
      assert.equal(await run((tx) => repo.update(tx, { ...refreshed(plain, at(MIN)), sessionId: '$ne' })), false);
      assert.equal(await run((tx) => repo.update(tx, { ...refreshed(plain, at(MIN)), sessionId: '{"$gt":""}' })), false);
      assert.deepEqual(await repo.list({ accountId: '$ne', now }, { limit: 10 }), []);
      assert.deepEqual(await repo.list({ accountId: '{"$gt":""}', now }, { limit: 10 }), []);
      assert.deepEqual(await repo.list({ statuses: ['$ne' as never], now }, { limit: 10 }), [], 'an unknown status matches nothing');
      assert.equal(await repo.hasUsedIp('$ne', '$ne'), false);
      assert.equal(await repo.hasUsedIp(plain.accountId, '{"$gt":""}'), false);
      assert.equal(await repo.hasUsedIp('{"$ne":null}', '{"$gt":""}'), true, 'the literal values are ordinary data');

      assert.ok(nothing(await settle(repo.get(OPERATOR))), 'operator objects match nothing');
      assert.ok(nothing(await settle(run((tx) => repo.revoke(tx, OPERATOR, now, null, 'x')))));
      assert.ok(nothing(await settle(run((tx) => repo.revokeAllForAccount(tx, OPERATOR, now, null, 'x')))));
      assert.ok(nothing(await settle(run((tx) => repo.update(tx, { ...refreshed(plain, at(MIN)), sessionId: OPERATOR })))));
      assert.ok(nothing(await settle(run((tx) => repo.update(tx, { ...refreshed(plain, at(MIN)), version: OPERATOR as unknown as number })))));
      assert.ok(nothing(await settle(repo.list({ accountId: OPERATOR, now }, { limit: 10 }))));
      assert.ok(nothing(await settle(repo.hasUsedIp(OPERATOR, OPERATOR))));
      assert.ok(nothing(await settle(repo.hasUsedIp(plain.accountId, OPERATOR))));

      assert.deepEqual(await repo.get(plain.sessionId), plain, 'nothing was revoked or changed');
      assert.deepEqual(await repo.get(odd.sessionId), odd);
    });
  },
);
