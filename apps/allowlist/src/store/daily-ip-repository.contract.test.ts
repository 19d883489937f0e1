import assert from 'node:assert/strict';
import path from 'node:path';
import { AlreadyExistsError, type UnitOfWork } from '@gatehouse/core';
import { openMongo, openSqlite } from '@gatehouse/storage';
import { describeRepositoryContract } from '@gatehouse/testing';
import { mongoUnitsInTurn } from './units-in-turn.js';
import type { DailyIp, DailyIpRepository } from '../domain/model.js';
import { dailyIpMongoIndexes, MongoDailyIpRepository } from './mongo-daily-ip-repository.js';
import { dailyIpSqliteMigrations, SqliteDailyIpRepository } from './sqlite-daily-ip-repository.js';

type Created = 'created' | 'ip_exists' | 'slot_taken';

/** The repository as these cases call it: every write is a unit of work of its own (store.run), as a use case runs it. */
type DailyIps = Omit<DailyIpRepository, 'create' | 'purgeExpired'> & {
  create(daily: DailyIp): Promise<Created>;
  purgeExpired(before: Date): Promise<number>;
};

interface Ctx {
  repo: DailyIps;
  close(): Promise<void>;
}

/** Anything but `created` ends the unit (a failed insert aborts a MongoDB transaction): carried out by this throw. */
class NotCreated extends Error {
  constructor(readonly result: Created) {
    super(result);
  }
}

function inUnits(store: UnitOfWork, repo: DailyIpRepository): DailyIps {
  return {
    create: (d) =>
      store
        .run(async (tx) => {
          const r = await repo.create(tx, d);
          if (r !== 'created') throw new NotCreated(r);
          return r;
        })
        .catch((err: unknown) => {
          if (err instanceof NotCreated) return err.result;
          throw err;
        }),
    find: (...a) => repo.find(...a),
    countForDay: (...a) => repo.countForDay(...a),
    listUnexpired: (...a) => repo.listUnexpired(...a),
    list: (...a) => repo.list(...a),
    hasUsedIp: (...a) => repo.hasUsedIp(...a),
    purgeExpired: (before) => store.run((tx) => repo.purgeExpired(tx, before)),
  };
}

const T0 = Date.UTC(2026, 10, 1, 0, 0, 0);
const at = (ms: number) => new Date(T0 + ms);
const MIN = 60_000;
const HOUR = 60 * MIN;
/** Daily cut-offs (the "day" key): 04:00 of the next three days. */
const DAY1 = at(28 * HOUR);
const DAY2 = at(52 * HOUR);
const DAY3 = at(76 * HOUR);
/** The per-day cap the tests' registration loop uses. */
const CAP = 5;

/** An operator object where a string belongs (what a parsed JSON request could smuggle in). */
const OPERATOR = { $ne: null } as unknown as string;
/** The call's result, or 'rejected': a driver may refuse a non-string outright, which is fine too. */
const settle = <T>(p: Promise<T>): Promise<T | 'rejected'> => p.catch(() => 'rejected' as const);
/** No match, no change: nothing found, false, a zero count, an empty list, or refused. */
const nothing = (v: unknown) => v === undefined || v === false || v === 0 || (Array.isArray(v) && v.length === 0) || v === 'rejected';

let n = 0;
/** A fresh registration for acc-1, DAY1, slot 1, registered at T0 + n s, with its own IP. */
function daily(overrides: Partial<DailyIp> = {}): DailyIp {
  n += 1;
  return {
    dailyIpId: `dip-${n.toString().padStart(4, '0')}`,
    ip: `198.51.100.${n % 256}`,
    accountId: 'acc-1',
    email: 'user1@bank.example',
    scope: 'live',
    registeredAt: at(n * 1_000),
    expiresAt: DAY1,
    slot: 1,
    ...overrides,
  };
}

/** What the domain does: try slot 1..cap until created, the IP is already there, or the cap is reached. */
async function register(repo: DailyIps, d: DailyIp): Promise<'created' | 'ip_exists' | 'full'> {
  for (let slot = 1; slot <= CAP; slot++) {
    const r = await repo.create({ ...d, slot });
    if (r !== 'slot_taken') return r;
  }
  return 'full';
}

const ids = (ds: DailyIp[]) => ds.map((d) => d.dailyIpId);
const sortedIds = (ds: DailyIp[]) => ids(ds).sort();

describeRepositoryContract<Ctx>(
  'daily ips',
  {
    sqlite: async (dir) => {
      const store = openSqlite({ file: path.join(dir, 'allowlist.db'), migrations: dailyIpSqliteMigrations });
      return { repo: inUnits(store, new SqliteDailyIpRepository(store)), close: () => store.close() };
    },
    mongodb: async (url, dbName) => {
      const store = await openMongo({ url, dbName, migrations: [], indexes: dailyIpMongoIndexes });
      // One process's units take turns on MongoDB, as the service runs them (units-in-turn.ts).
      return { repo: inUnits(mongoUnitsInTurn(store, store), new MongoDailyIpRepository(store)), close: () => store.close() };
    },
    close: (ctx) => ctx.close(),
  },
  (backend) => {
    backend.test('a registration round-trips with its dates, survives a restart, and ids are unique', async ({ repo }, env) => {
      const d = daily({ ip: '2001:db8::7', scope: 'all', registeredAt: new Date(T0 + 123), expiresAt: new Date(DAY1.getTime() + 1), slot: 3 });
      assert.equal(await repo.create(d), 'created');
      const got = await repo.find(d.accountId, d.ip, d.expiresAt);
      assert.deepEqual(got, d);
      assert.ok(got?.registeredAt instanceof Date && got.expiresAt instanceof Date, 'dates come back as Dates');
      assert.equal(got.registeredAt.getTime(), T0 + 123, 'to the millisecond');
      assert.equal(await repo.find(d.accountId, d.ip, DAY1), undefined, 'the cut-off must match exactly');
      assert.equal(await repo.find('acc-2', d.ip, d.expiresAt), undefined);
      assert.equal(await repo.find(d.accountId, '2001:db8::8', d.expiresAt), undefined);

      await assert.rejects(repo.create(daily({ dailyIpId: d.dailyIpId })), AlreadyExistsError, 'a duplicate id is neither ip_exists nor slot_taken');

      const reopened = await env.reopen();
      assert.deepEqual(await reopened.repo.find(d.accountId, d.ip, d.expiresAt), d, 'durable across a restart');
    });

    backend.test('the store tells ip_exists from slot_taken; "already registered" wins when both keys collide', async ({ repo }) => {
      const first = daily({ ip: '203.0.113.1', slot: 1 });
      assert.equal(await repo.create(first), 'created');
      assert.equal(await repo.create(daily({ ip: '203.0.113.1', slot: 2 })), 'ip_exists', 'same account, day and IP');
      assert.equal(await repo.create(daily({ ip: '203.0.113.2', slot: 1 })), 'slot_taken', 'same account, day and slot');
      assert.equal(await repo.create(daily({ ip: '203.0.113.1', slot: 1 })), 'ip_exists', 'both keys taken: the IP is already registered');
      assert.equal(await repo.countForDay('acc-1', DAY1), 1, 'the refused ones left no trace');

      assert.equal(await repo.create(daily({ ip: '203.0.113.1', slot: 1, expiresAt: DAY2 })), 'created', 'another day');
      assert.equal(await repo.create(daily({ ip: '203.0.113.1', slot: 1, accountId: 'acc-2' })), 'created', 'another account');
      assert.equal(await repo.create(daily({ ip: '203.0.113.2', slot: 2 })), 'created', 'the next slot');
      assert.equal(await repo.countForDay('acc-1', DAY1), 2);
      assert.equal(await repo.countForDay('acc-1', DAY2), 1);
      assert.equal(await repo.countForDay('acc-2', DAY1), 1);
      assert.equal(await repo.countForDay('acc-3', DAY1), 0);

      // A registration loop for an IP already in the last slot answers ip_exists, not "cap reached".
      for (let i = 3; i <= CAP; i++) assert.equal(await repo.create(daily({ ip: `203.0.113.${i}`, slot: i })), 'created');
      assert.equal(await register(repo, daily({ ip: `203.0.113.${CAP}` })), 'ip_exists');
      assert.equal(await register(repo, daily({ ip: '203.0.113.99' })), 'full');
      assert.equal(await repo.countForDay('acc-1', DAY1), CAP);
    });

    backend.test('the cap holds under concurrency: 20 parallel registrations of distinct IPs, exactly 5 created', async ({ repo }) => {
      const racers = Array.from({ length: 20 }, (_, i) => daily({ ip: `192.0.2.${i + 1}` }));
      const results = await Promise.all(racers.map((d) => register(repo, d)));
      assert.equal(results.filter((r) => r === 'created').length, CAP);
      assert.equal(results.filter((r) => r === 'full').length, 20 - CAP);
      assert.equal(await repo.countForDay('acc-1', DAY1), CAP);
      const stored = await repo.list({ accountId: 'acc-1', includeExpired: true, now: at(0) }, { limit: 100 });
      assert.deepEqual(stored.map((d) => d.slot).sort(), [1, 2, 3, 4, 5], 'one registration per slot');
      assert.deepEqual(stored.map((d) => d.ip).sort(), racers.filter((_, i) => results[i] === 'created').map((d) => d.ip).sort(), 'the winners are the ones told so');

      // 20 parallel registrations of the same IP: one created, the rest told it exists.
      const same = Array.from({ length: 20 }, () => daily({ ip: '192.0.2.200', accountId: 'acc-2' }));
      const sameResults = await Promise.all(same.map((d) => register(repo, d)));
      assert.equal(sameResults.filter((r) => r === 'created').length, 1);
      assert.equal(sameResults.filter((r) => r === 'ip_exists').length, 19);
      assert.equal(await repo.countForDay('acc-2', DAY1), 1);
    });

    backend.test('listUnexpired uses expiresAt > now', async ({ repo }) => {
      const day1 = daily({ expiresAt: DAY1 });
      const day2 = daily({ expiresAt: DAY2 });
      const day3 = daily({ expiresAt: DAY3, accountId: 'acc-2' });
      for (const d of [day1, day2, day3]) await repo.create(d);
      assert.deepEqual(sortedIds(await repo.listUnexpired(at(0))), sortedIds([day1, day2, day3]));
      assert.deepEqual(sortedIds(await repo.listUnexpired(new Date(DAY1.getTime() - 1))), sortedIds([day1, day2, day3]));
      assert.deepEqual(sortedIds(await repo.listUnexpired(DAY1)), sortedIds([day2, day3]), 'expiring exactly now is expired');
      assert.deepEqual(sortedIds(await repo.listUnexpired(DAY3)), []);
      for (const d of await repo.listUnexpired(at(0))) assert.deepEqual(d, [day1, day2, day3].find((x) => x.dailyIpId === d.dailyIpId), 'listed registrations are whole');
    });

    backend.test('list: newest first (id breaks ties), by account, unexpired at `now` unless asked, pages by cursor', async ({ repo }) => {
      const now = DAY1;
      const old = daily({ registeredAt: at(MIN), expiresAt: DAY1, slot: 1 }); // expired at now
      const a1 = daily({ registeredAt: at(2 * MIN), expiresAt: DAY2, slot: 1 });
      const tieA = daily({ dailyIpId: 'dip-tie-a', registeredAt: at(3 * MIN), expiresAt: DAY2, slot: 2 });
      const tieB = daily({ dailyIpId: 'dip-tie-b', registeredAt: at(3 * MIN), expiresAt: DAY2, slot: 3 });
      const a2 = daily({ registeredAt: at(4 * MIN), expiresAt: DAY2, slot: 4 });
      const other = daily({ accountId: 'acc-2', registeredAt: at(5 * MIN), expiresAt: DAY2 });
      const otherOld = daily({ accountId: 'acc-2', registeredAt: at(30 * MIN), expiresAt: DAY1 });
      const all = [old, a1, tieA, tieB, a2, other, otherOld];
      for (const d of all) assert.equal(await repo.create(d), 'created');

      const p = { limit: 20 };
      assert.deepEqual(ids(await repo.list({ accountId: 'acc-1', includeExpired: true, now }, p)), ids([a2, tieB, tieA, a1, old]));
      assert.deepEqual(ids(await repo.list({ accountId: 'acc-1', includeExpired: false, now }, p)), ids([a2, tieB, tieA, a1]), 'expiresAt == now is expired');
      assert.deepEqual(ids(await repo.list({ includeExpired: false, now }, p)), ids([other, a2, tieB, tieA, a1]), 'no account filter: every account');
      assert.deepEqual(ids(await repo.list({ includeExpired: true, now }, p)), ids([otherOld, other, a2, tieB, tieA, a1, old]));
      assert.deepEqual(ids(await repo.list({ includeExpired: false, now: at(0) }, p)), ids([otherOld, other, a2, tieB, tieA, a1, old]), 'expiry is evaluated at filter.now');
      for (const d of await repo.list({ includeExpired: true, now }, p)) assert.deepEqual(d, all.find((x) => x.dailyIpId === d.dailyIpId), 'listed registrations are whole');

      // Two pages of 4 over all 7, the boundary between the two sharing a registeredAt.
      const newestFirst = [otherOld, other, a2, tieB, tieA, a1, old];
      const page1 = await repo.list({ includeExpired: true, now }, { limit: 4 });
      assert.deepEqual(ids(page1), ids(newestFirst.slice(0, 4)));
      const last = page1[page1.length - 1]!;
      const page2 = await repo.list({ includeExpired: true, now }, { after: { registeredAt: last.registeredAt, dailyIpId: last.dailyIpId }, limit: 4 });
      assert.deepEqual(ids(page2), ids(newestFirst.slice(4)));
      const end = page2[page2.length - 1]!;
      assert.deepEqual(await repo.list({ includeExpired: true, now }, { after: { registeredAt: end.registeredAt, dailyIpId: end.dailyIpId }, limit: 4 }), []);

      // Filtered paging: acc-1 unexpired, pages of 2.
      const f = { accountId: 'acc-1', includeExpired: false, now };
      const f1 = await repo.list(f, { limit: 2 });
      const f2 = await repo.list(f, { after: { registeredAt: f1[1]!.registeredAt, dailyIpId: f1[1]!.dailyIpId }, limit: 2 });
      assert.deepEqual([...ids(f1), ...ids(f2)], ids([a2, tieB, tieA, a1]));
    });

    backend.test('hasUsedIp looks across days; purgeExpired deletes what expired before the instant and counts it', async ({ repo }) => {
      await repo.create(daily({ ip: '198.51.100.1', expiresAt: DAY1 }));
      await repo.create(daily({ ip: '198.51.100.2', expiresAt: DAY2 }));
      await repo.create(daily({ ip: '198.51.100.3', expiresAt: DAY3 }));
      await repo.create(daily({ ip: '192.0.2.9', accountId: 'acc-2', expiresAt: DAY1 }));
      assert.equal(await repo.hasUsedIp('acc-1', '198.51.100.1'), true, 'an earlier day counts');
      assert.equal(await repo.hasUsedIp('acc-1', '198.51.100.3'), true);
      assert.equal(await repo.hasUsedIp('acc-1', '192.0.2.9'), false, "another account's IP is new for this one");
      assert.equal(await repo.hasUsedIp('acc-2', '198.51.100.1'), false);
      assert.equal(await repo.hasUsedIp('acc-1', '198.51.100.10'), false, 'exact match, not prefix');

      assert.equal(await repo.purgeExpired(DAY1), 0, 'expiring exactly at `before` is kept');
      assert.equal(await repo.purgeExpired(new Date(DAY1.getTime() + 1)), 2, 'both DAY1 registrations');
      assert.equal(await repo.purgeExpired(new Date(DAY1.getTime() + 1)), 0, 'nothing left to purge');
      assert.equal(await repo.countForDay('acc-1', DAY1), 0);
      assert.equal(await repo.countForDay('acc-1', DAY2), 1);
      assert.equal(await repo.purgeExpired(at(1_000 * HOUR)), 2);
      assert.deepEqual(await repo.list({ includeExpired: true, now: at(0) }, { limit: 10 }), []);
    });

    backend.test('operator-like ids and values are plain strings: nothing is matched or changed', async ({ repo }) => {
      const odd = daily({ dailyIpId: '{"$ne":null}', accountId: '{"$ne":null}', ip: '{"$gt":""}' });
      const plain = daily({ ip: '198.51.100.50' });
      assert.equal(await repo.create(odd), 'created');
      assert.equal(await repo.create(plain), 'created');
      assert.equal(await repo.create(daily({ accountId: '$ne', ip: '$ne', slot: 1 })), 'created', "'$ne' is an account like any other");

      assert.equal(await repo.find('$ne', plain.ip, DAY1), undefined);
      assert.equal(await repo.find(plain.accountId, '$ne', DAY1), undefined);
      assert.equal(await repo.find('{"$gt":""}', '{"$gt":""}', DAY1), undefined);
      assert.deepEqual(await repo.find('{"$ne":null}', '{"$gt":""}', DAY1), odd, 'the literal values are ordinary data');
      assert.equal(await repo.countForDay('{"$gt":""}', DAY1), 0);
      assert.equal(await repo.countForDay('$ne', DAY1), 1, 'only the literal account');
      assert.deepEqual(await repo.list({ accountId: '{"$gt":""}', includeExpired: true, now: at(0) }, { limit: 10 }), []);
      assert.deepEqual(ids(await repo.list({ accountId: '{"$ne":null}', includeExpired: true, now: at(0) }, { limit: 10 })), ids([odd]));
      assert.equal(await repo.hasUsedIp('$ne', plain.ip), false);
      assert.equal(await repo.hasUsedIp(plain.accountId, '{"$gt":""}'), false);
      assert.equal(await repo.hasUsedIp('{"$ne":null}', '{"$gt":""}'), true);

      assert.ok(nothing(await settle(repo.find(OPERATOR, OPERATOR, DAY1))), 'operator objects match nothing');
      assert.ok(nothing(await settle(repo.find(plain.accountId, OPERATOR, DAY1))));
      assert.ok(nothing(await settle(repo.countForDay(OPERATOR, DAY1))));
      assert.ok(nothing(await settle(repo.list({ accountId: OPERATOR, includeExpired: true, now: at(0) }, { limit: 10 }))));
      assert.ok(nothing(await settle(repo.hasUsedIp(OPERATOR, OPERATOR))));
      assert.ok(nothing(await settle(repo.hasUsedIp(plain.accountId, OPERATOR))));

      assert.deepEqual(await repo.find(plain.accountId, plain.ip, DAY1), plain, 'nothing changed');
      assert.equal(await repo.countForDay(plain.accountId, DAY1), 1);
    });
  },
);
