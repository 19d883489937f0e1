import assert from 'node:assert/strict';
import path from 'node:path';
import { AlreadyExistsError, type UnitOfWork } from '@gatehouse/core';
import { openMongo, openSqlite } from '@gatehouse/storage';
import { describeRepositoryContract } from '@gatehouse/testing';
import { mongoUnitsInTurn } from './units-in-turn.js';
import type { Actor, AllowlistEntry, EntryRepository } from '../domain/model.js';
import { entryMongoIndexes, MongoEntryRepository } from './mongo-entry-repository.js';
import { entrySqliteMigrations, SqliteEntryRepository } from './sqlite-entry-repository.js';

/** The repository as these cases call it: every write is a unit of work of its own (store.run), as a use case runs it. */
interface Entries {
  create(entry: AllowlistEntry): Promise<void>;
  get: EntryRepository['get'];
  remove(entryId: string, at: Date, by: Actor, reason: string): Promise<AllowlistEntry | undefined>;
  listActive: EntryRepository['listActive'];
}

interface Ctx {
  repo: Entries;
  /** The store and the raw repository, for cases about the transaction itself. */
  store: UnitOfWork;
  raw: EntryRepository;
  close(): Promise<void>;
}

function inUnits(store: UnitOfWork, repo: EntryRepository): Entries {
  return {
    create: (e) => store.run((tx) => repo.create(tx, e)),
    get: (id) => repo.get(id),
    remove: (id, at, by, reason) => store.run((tx) => repo.remove(tx, id, at, by, reason)),
    listActive: () => repo.listActive(),
  };
}

const T0 = Date.UTC(2026, 10, 1, 9, 0, 0);
const at = (ms: number) => new Date(T0 + ms);
const HOUR = 3_600_000;
const OFFICER: Actor = { accountId: 'acc-off', email: 'officer@bank.example' };
const OTHER_OFFICER: Actor = { accountId: 'acc-off-2', email: 'officer2@bank.example' };

/** An operator object where a string belongs (what a parsed JSON request could smuggle in). */
const OPERATOR = { $ne: null } as unknown as string;
/** The call's result, or 'rejected': a driver may refuse a non-string outright, which is fine too. */
const settle = <T>(p: Promise<T>): Promise<T | 'rejected'> => p.catch(() => 'rejected' as const);
/** No match, no change: nothing found, an empty list, or refused. */
const nothing = (v: unknown) => v === undefined || (Array.isArray(v) && v.length === 0) || v === 'rejected';

let n = 0;
/** A fresh, active entry created at T0 + n s, with its own CIDR unless overridden. */
function entry(overrides: Partial<AllowlistEntry> = {}): AllowlistEntry {
  n += 1;
  const cidr = overrides.cidr ?? `10.${n % 256}.${Math.floor(n / 256)}.0/24`;
  const scope = overrides.scope ?? 'live';
  return {
    entryId: `ent-${n.toString().padStart(4, '0')}`,
    cidr,
    label: `office ${n}`,
    scope,
    expiresAt: null,
    createdBy: OFFICER,
    reason: 'branch office VPN',
    createdAt: at(n * 1_000),
    removedAt: null,
    removedBy: null,
    removeReason: null,
    activeKey: `${cidr}|${scope}`,
    ...overrides,
  };
}

/** What an entry looks like after remove(). */
const removed = (e: AllowlistEntry, when: Date, by: Actor, reason: string): AllowlistEntry => ({ ...e, removedAt: when, removedBy: by, removeReason: reason, activeKey: e.entryId });

const ids = (es: AllowlistEntry[]) => es.map((e) => e.entryId).sort();

describeRepositoryContract<Ctx>(
  'allowlist entries',
  {
    sqlite: async (dir) => {
      const store = openSqlite({ file: path.join(dir, 'allowlist.db'), migrations: entrySqliteMigrations });
      const raw = new SqliteEntryRepository(store);
      return { repo: inUnits(store, raw), store, raw, close: () => store.close() };
    },
    mongodb: async (url, dbName) => {
      const store = await openMongo({ url, dbName, migrations: [], indexes: entryMongoIndexes });
      const raw = new MongoEntryRepository(store);
      // One process's units take turns on MongoDB, as the service runs them (units-in-turn.ts).
      return { repo: inUnits(mongoUnitsInTurn(store, store), raw), store, raw, close: () => store.close() };
    },
    close: (ctx) => ctx.close(),
  },
  (backend) => {
    backend.test('an entry round-trips with every date (and every null), survives a restart, and ids are unique', async ({ repo }, env) => {
      const forever = entry({ scope: 'all', cidr: '2001:db8::/48', activeKey: '2001:db8::/48|all' });
      const expiring = entry({ scope: 'staging', expiresAt: at(30 * 24 * HOUR + 1) });
      const alreadyRemoved = entry({ removedAt: at(HOUR), removedBy: OTHER_OFFICER, removeReason: 'office closed' });
      const gone = { ...alreadyRemoved, activeKey: alreadyRemoved.entryId };
      for (const e of [forever, expiring, gone]) await repo.create(e);

      for (const e of [forever, expiring, gone]) assert.deepEqual(await repo.get(e.entryId), e);
      const got = await repo.get(expiring.entryId);
      assert.ok(got?.createdAt instanceof Date && got.expiresAt instanceof Date, 'dates come back as Dates');
      assert.equal(got.expiresAt.getTime(), expiring.expiresAt!.getTime(), 'to the millisecond');
      assert.ok((await repo.get(gone.entryId))?.removedAt instanceof Date);
      assert.equal(await repo.get('ent-missing'), undefined);

      await assert.rejects(repo.create(entry({ entryId: forever.entryId })), AlreadyExistsError, 'a duplicate id');

      const reopened = await env.reopen();
      for (const e of [forever, expiring, gone]) assert.deepEqual(await reopened.repo.get(e.entryId), e, 'durable across a restart');
    });

    backend.test('one active entry per CIDR and scope: the store refuses a second, even 20 at once; removal frees the key', async ({ repo }) => {
      const first = entry({ cidr: '192.0.2.0/24', scope: 'live' });
      await repo.create(first);
      await assert.rejects(repo.create(entry({ cidr: '192.0.2.0/24', scope: 'live' })), AlreadyExistsError);
      const otherScope = entry({ cidr: '192.0.2.0/24', scope: 'staging' });
      await repo.create(otherScope);
      assert.deepEqual(ids(await repo.listActive()), ids([first, otherScope]), 'the refused one left no trace');

      const racers = Array.from({ length: 20 }, () => entry({ cidr: '198.51.100.0/24', scope: 'all' }));
      const results = await Promise.allSettled(racers.map((e) => repo.create(e)));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one racer wins');
      for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof AlreadyExistsError, String(r.reason));
      const winner = racers[results.findIndex((r) => r.status === 'fulfilled')]!;
      assert.deepEqual(ids(await repo.listActive()), ids([first, otherScope, winner]));

      assert.ok(await repo.remove(first.entryId, at(HOUR), OFFICER, 'moved'));
      const again = entry({ cidr: '192.0.2.0/24', scope: 'live' });
      await repo.create(again);
      assert.deepEqual(await repo.get(again.entryId), again, 'a removed entry never blocks a new one');
      assert.deepEqual(ids(await repo.listActive()), ids([again, otherScope, winner]));
    });

    backend.test('remove is a compare-and-set on "still active": it returns the removed entry once, then undefined', async ({ repo }) => {
      const e = entry({ expiresAt: at(48 * HOUR) });
      const keep = entry();
      await repo.create(e);
      await repo.create(keep);

      const expected = removed(e, at(HOUR), OFFICER, 'no longer needed');
      const got = await repo.remove(e.entryId, at(HOUR), OFFICER, 'no longer needed');
      assert.deepEqual(got, expected, 'the returned entry is the removed one, active key freed');
      assert.ok(got?.removedAt instanceof Date && got.createdAt instanceof Date && got.expiresAt instanceof Date);
      assert.deepEqual(await repo.get(e.entryId), expected, 'and that is what is stored');

      assert.equal(await repo.remove(e.entryId, at(2 * HOUR), OTHER_OFFICER, 'again'), undefined, 'already removed');
      assert.deepEqual(await repo.get(e.entryId), expected, 'the second removal changed nothing');
      assert.equal(await repo.remove('ent-missing', at(HOUR), OFFICER, 'x'), undefined, 'unknown');
      assert.deepEqual(await repo.get(keep.entryId), keep, 'other entries untouched');

      // 20 officers remove the same entry at once: exactly one gets it back.
      const target = entry();
      await repo.create(target);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => repo.remove(target.entryId, at(HOUR + i), { accountId: `acc-${i}`, email: `o${i}@bank.example` }, `reason ${i}`)));
      const winners = results.filter((r) => r !== undefined);
      assert.equal(winners.length, 1);
      const i = results.findIndex((r) => r !== undefined);
      const expectedWinner = removed(target, at(HOUR + i), { accountId: `acc-${i}`, email: `o${i}@bank.example` }, `reason ${i}`);
      assert.deepEqual(winners[0], expectedWinner);
      assert.deepEqual(await repo.get(target.entryId), expectedWinner, 'the stored removal is the winner’s');
    });

    backend.test('writes ride in the caller\'s unit of work: a unit that fails after them leaves no entry and no removal', async ({ repo, store, raw }) => {
      const kept = entry();
      await repo.create(kept);
      const lost = entry();
      const boom = new Error('the unit failed after its writes');
      await assert.rejects(
        store.run(async (tx) => {
          await raw.create(tx, lost);
          assert.ok(await raw.remove(tx, kept.entryId, at(HOUR), OFFICER, 'rolled back'), 'the unit sees its own writes');
          throw boom;
        }),
        (err) => err === boom,
      );
      assert.equal(await repo.get(lost.entryId), undefined, 'the create was rolled back');
      assert.deepEqual(await repo.get(kept.entryId), kept, 'the removal was rolled back');
      assert.deepEqual(ids(await repo.listActive()), ids([kept]));
    });

    backend.test('listActive returns every active entry, expired ones included, and no removed one', async ({ repo }) => {
      const now = at(10 * HOUR);
      const noExpiry = entry();
      const expired = entry({ expiresAt: at(HOUR) });
      const expiresLater = entry({ expiresAt: at(100 * HOUR) });
      const gone = entry();
      const createdRemoved = entry({ removedAt: at(HOUR), removedBy: OFFICER, removeReason: 'x' });
      for (const e of [noExpiry, expired, expiresLater, gone, { ...createdRemoved, activeKey: createdRemoved.entryId }]) await repo.create(e);
      assert.ok(await repo.remove(gone.entryId, now, OFFICER, 'gone'));

      const active = await repo.listActive();
      assert.deepEqual(ids(active), ids([noExpiry, expired, expiresLater]));
      for (const e of active) assert.deepEqual(e, [noExpiry, expired, expiresLater].find((x) => x.entryId === e.entryId), 'listed entries are whole');
      assert.equal((await repo.get(gone.entryId))?.activeKey, gone.entryId, 'a removed entry keeps its id as its key');
    });

    backend.test('operator-like ids are plain strings: nothing is matched or changed', async ({ repo }) => {
      const odd = entry({ entryId: '{"$ne":null}', cidr: '203.0.113.0/24', activeKey: '{"$gt":""}' });
      const plain = entry();
      await repo.create(odd);
      await repo.create(plain);

      assert.equal(await repo.get('$ne'), undefined);
      assert.equal(await repo.get('{"$gt":""}'), undefined, 'an active key is not an id');
      assert.deepEqual(await repo.get('{"$ne":null}'), odd, 'the literal id is ordinary data');
      assert.equal(await repo.remove('$ne', at(HOUR), OFFICER, 'x'), undefined);
      assert.equal(await repo.remove('{"$gt":""}', at(HOUR), OFFICER, 'x'), undefined);
      assert.ok(nothing(await settle(repo.get(OPERATOR))), 'operator objects match nothing');
      assert.ok(nothing(await settle(repo.remove(OPERATOR, at(HOUR), OFFICER, 'x'))));
      assert.deepEqual(await repo.get(plain.entryId), plain, 'nothing was removed');
      assert.deepEqual(await repo.get(odd.entryId), odd);
      assert.deepEqual(ids(await repo.listActive()), ids([odd, plain]));

      const gone = await repo.remove('{"$ne":null}', at(HOUR), { accountId: '$ne', email: '{"$ne":null}' }, '$set');
      assert.deepEqual(gone, removed(odd, at(HOUR), { accountId: '$ne', email: '{"$ne":null}' }, '$set'), 'only the entry with that literal id, its values stored as text');
      assert.deepEqual(await repo.get(plain.entryId), plain);
    });
  },
);
