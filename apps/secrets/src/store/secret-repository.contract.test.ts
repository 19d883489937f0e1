import assert from 'node:assert/strict';
import path from 'node:path';
import { AlreadyExistsError } from '@gatehouse/core';
import { openMongo, openSqlite } from '@gatehouse/storage';
import { describeRepositoryContract } from '@gatehouse/testing';
import type { Actor, Environment, SecretHead, SecretRepository, SecretVersion } from '../domain/model.js';
import { eachWriteInAUnit, type WithoutTx } from '../test-support/each-write-in-a-unit.js';
import { secretsSchema, secretsStores } from './schema.js';

interface Ctx {
  repo: WithoutTx<SecretRepository>;
  close(): Promise<void>;
}

const T0 = Date.UTC(2026, 10, 1, 9, 0, 0);
const at = (ms: number) => new Date(T0 + ms);
const HOUR = 3_600_000;
const ALICE: Actor = { accountId: 'acc-alice', email: 'alice@bank.example' };
const BOB: Actor = { accountId: 'acc-bob', email: 'bob@bank.example' };
const OFFICER: Actor = { accountId: 'acc-off', email: 'officer@bank.example' };

/** An operator object where a string belongs (what a parsed JSON request could smuggle in). */
const OPERATOR = { $ne: null } as unknown as string;
/** The call's result, or 'rejected': a driver may refuse a non-string outright, which is fine too. */
const settle = <T>(p: Promise<T>): Promise<T | 'rejected'> => p.catch(() => 'rejected' as const);
/** No match, no change: nothing found, false, an empty list, or refused. */
const nothing = (v: unknown) => v === undefined || v === false || (Array.isArray(v) && v.length === 0) || v === 'rejected';

interface SecretRef {
  environment: Environment;
  app: string;
  name: string;
}

let n = 0;
/** Version `version` of a secret, created at T0 + n s (odd milliseconds, to check exactness). */
function version(s: SecretRef, version: number, overrides: Partial<SecretVersion> = {}): SecretVersion {
  n += 1;
  const tag = `${s.environment}/${s.app}/${s.name}/${version}/${n}`;
  return {
    ...s,
    version,
    ciphertext: `ct:${tag}`,
    iv: `iv:${tag}`,
    tag: `tag:${tag}`,
    wrappedDataKey: `wdk:${tag}`,
    masterKeyVersion: 1,
    createdAt: at(n * 1_000 + 7),
    createdBy: ALICE,
    destroyedAt: null,
    ...overrides,
  };
}

/** The head a Put of `v` writes (`createdAt` is when the secret's first version was stored). */
const headOf = (v: SecretVersion, createdAt: Date = v.createdAt): SecretHead => ({
  environment: v.environment,
  app: v.app,
  name: v.name,
  latestVersion: v.version,
  createdAt,
  updatedAt: v.createdAt,
  updatedBy: v.createdBy,
  deletedAt: null,
  deletedBy: null,
});

/** Stores versions 1..count of a secret; returns them and the final head. */
async function putSecret(repo: WithoutTx<SecretRepository>, s: SecretRef, count = 1, overrides: Partial<SecretVersion> = {}): Promise<{ versions: SecretVersion[]; head: SecretHead }> {
  const versions: SecretVersion[] = [];
  let head: SecretHead | undefined;
  for (let i = 1; i <= count; i++) {
    const v = version(s, i, overrides);
    head = headOf(v, versions[0]?.createdAt ?? v.createdAt);
    await repo.putVersion(v, head);
    versions.push(v);
  }
  return { versions, head: head! };
}

/** What a version looks like once its secret was deleted at `when`. */
const destroyed = (v: SecretVersion, when: Date): SecretVersion => ({ ...v, ciphertext: '', iv: '', tag: '', wrappedDataKey: '', destroyedAt: when });

const keys = (hs: Array<SecretHead | SecretVersion>) => hs.map((h) => `${h.environment}/${h.app}/${h.name}`);

/** The port's writes: each runs in a unit of work of its own, as the domain runs them. */
const WRITES: ReadonlyArray<keyof SecretRepository> = ['putVersion', 'delete', 'rewrap'];

describeRepositoryContract<Ctx>(
  'secrets',
  {
    sqlite: async (dir) => {
      const store = openSqlite({ file: path.join(dir, 'secrets.db'), migrations: secretsSchema.sqliteMigrations });
      return { repo: eachWriteInAUnit(store, secretsStores({ backend: 'sqlite', store }).secrets, WRITES), close: () => store.close() };
    },
    mongodb: async (url, dbName) => {
      const store = await openMongo({ url, dbName, migrations: secretsSchema.mongoMigrations, indexes: secretsSchema.mongoIndexes });
      return { repo: eachWriteInAUnit(store, secretsStores({ backend: 'mongodb', store }).secrets, WRITES), close: () => store.close() };
    },
    close: (ctx) => ctx.close(),
  },
  (backend) => {
    backend.test('versions and heads round-trip with every date (and every null), and survive a restart', async ({ repo }, env) => {
      const db: SecretRef = { environment: 'live', app: 'payments', name: 'DB_PASSWORD' };
      const v1 = version(db, 1);
      await repo.putVersion(v1, headOf(v1));
      assert.deepEqual(await repo.head('live', 'payments', 'DB_PASSWORD'), headOf(v1));
      assert.deepEqual(await repo.version('live', 'payments', 'DB_PASSWORD', 1), v1);

      const v2 = version(db, 2, { masterKeyVersion: 3, createdBy: BOB });
      const h2 = headOf(v2, v1.createdAt);
      await repo.putVersion(v2, h2);
      const head = await repo.head('live', 'payments', 'DB_PASSWORD');
      assert.deepEqual(head, h2, 'the head moved to version 2, keeping when the secret was created');
      assert.ok(head?.createdAt instanceof Date && head.updatedAt instanceof Date, 'dates come back as Dates');
      assert.equal(head.updatedAt.getTime(), v2.createdAt.getTime(), 'to the millisecond');
      const got = await repo.version('live', 'payments', 'DB_PASSWORD', 2);
      assert.deepEqual(got, v2);
      assert.ok(got?.createdAt instanceof Date, 'createdAt is a Date');
      assert.deepEqual(await repo.version('live', 'payments', 'DB_PASSWORD', 1), v1, 'older versions stay');

      assert.equal(await repo.head('staging', 'payments', 'DB_PASSWORD'), undefined, 'another environment');
      assert.equal(await repo.head('live', 'payment', 'DB_PASSWORD'), undefined, 'another app');
      assert.equal(await repo.head('live', 'payments', 'DB_PASSWORD_2'), undefined, 'another name');
      assert.equal(await repo.version('live', 'payments', 'DB_PASSWORD', 3), undefined, 'a version not stored');

      // A deleted head round-trips its deletion too.
      const gone = await putSecret(repo, { environment: 'staging', app: 'payments', name: 'OLD_TOKEN' });
      assert.equal(await repo.delete('staging', 'payments', 'OLD_TOKEN', at(HOUR + 1), OFFICER), true);
      const deleted = await repo.head('staging', 'payments', 'OLD_TOKEN');
      assert.deepEqual(deleted, { ...gone.head, deletedAt: at(HOUR + 1), deletedBy: OFFICER });
      assert.ok(deleted?.deletedAt instanceof Date, 'deletedAt is a Date');
      assert.ok((await repo.version('staging', 'payments', 'OLD_TOKEN', 1))?.destroyedAt instanceof Date, 'destroyedAt is a Date');

      const reopened = await env.reopen();
      assert.deepEqual(await reopened.repo.head('live', 'payments', 'DB_PASSWORD'), h2, 'durable across a restart');
      assert.deepEqual(await reopened.repo.version('live', 'payments', 'DB_PASSWORD', 2), v2);
      assert.deepEqual(await reopened.repo.head('staging', 'payments', 'OLD_TOKEN'), deleted);
    });

    backend.test('a version number is taken once: ALREADY_EXISTS for a second Put, exactly one of 10 racers wins', async ({ repo }) => {
      const s: SecretRef = { environment: 'live', app: 'payments', name: 'API_KEY' };
      const { versions, head } = await putSecret(repo, s);
      const v1 = versions[0]!;
      const again = version(s, 1, { createdBy: BOB });
      await assert.rejects(repo.putVersion(again, headOf(again)), AlreadyExistsError);
      assert.deepEqual(await repo.version('live', 'payments', 'API_KEY', 1), v1, 'the refused Put left no trace');
      assert.deepEqual(await repo.head('live', 'payments', 'API_KEY'), head);

      // 10 Puts that all read head version 1 race for version 2.
      const racers = Array.from({ length: 10 }, (_, i) => version(s, 2, { createdBy: { accountId: `acc-${i}`, email: `u${i}@bank.example` } }));
      const results = await Promise.allSettled(racers.map((v) => repo.putVersion(v, headOf(v, v1.createdAt))));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one racer wins');
      for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof AlreadyExistsError, String(r.reason));
      const winner = racers[results.findIndex((r) => r.status === 'fulfilled')]!;
      assert.deepEqual(await repo.version('live', 'payments', 'API_KEY', 2), winner, 'the stored version is the winner’s');
      assert.deepEqual(await repo.head('live', 'payments', 'API_KEY'), headOf(winner, v1.createdAt), 'and so is the head');

      // The same number in another secret, app or environment is another key.
      for (const other of [
        { ...s, name: 'API_KEY_2' },
        { ...s, app: 'payments-2' },
        { ...s, environment: 'staging' as const },
      ]) {
        const v = version(other, 2);
        await repo.putVersion(v, headOf(v));
        assert.deepEqual(await repo.version(other.environment, other.app, other.name, 2), v);
      }
      assert.deepEqual(await repo.version('live', 'payments', 'API_KEY', 2), winner);
    });

    backend.test('the head only moves forward: a late head write never takes it back, even 10 Puts at once', async ({ repo }) => {
      const s: SecretRef = { environment: 'staging', app: 'web', name: 'SESSION_KEY' };
      const v4 = version(s, 4);
      await repo.putVersion(v4, headOf(v4));
      const v3 = version(s, 3);
      await repo.putVersion(v3, headOf(v3, v4.createdAt));
      assert.deepEqual(await repo.version('staging', 'web', 'SESSION_KEY', 3), v3, 'the version is stored');
      assert.deepEqual(await repo.head('staging', 'web', 'SESSION_KEY'), headOf(v4), 'the head stays at 4');

      const racers = Array.from({ length: 10 }, (_, i) => version(s, 5 + i));
      await Promise.all(racers.map((v) => repo.putVersion(v, headOf(v, v4.createdAt))));
      assert.deepEqual(await repo.head('staging', 'web', 'SESSION_KEY'), headOf(racers[9]!, v4.createdAt), 'the newest of the racers');

      const fresh: SecretRef = { environment: 'staging', app: 'web', name: 'FRESH' };
      const firsts = Array.from({ length: 10 }, (_, i) => version(fresh, 1 + i));
      await Promise.all(firsts.map((v) => repo.putVersion(v, headOf(v))));
      assert.equal((await repo.head('staging', 'web', 'FRESH'))?.latestVersion, 10, 'also when the racers create the head');

      const v = version(s, 20);
      await assert.rejects(repo.putVersion(v, { ...headOf(v), name: 'OTHER' }), RangeError, 'a head of another secret is refused');
      await assert.rejects(repo.putVersion(v, { ...headOf(v), latestVersion: 21 }), RangeError, 'so is a head pointing elsewhere');
      assert.equal(await repo.version('staging', 'web', 'SESSION_KEY', 20), undefined);
      assert.equal(await repo.head('staging', 'web', 'OTHER'), undefined);
    });

    backend.test('latestOfApp: the latest version of each live secret of the app, by name', async ({ repo }) => {
      const b = await putSecret(repo, { environment: 'live', app: 'payments', name: 'B_TOKEN' });
      const a = await putSecret(repo, { environment: 'live', app: 'payments', name: 'A_PASSWORD' }, 3);
      const c = await putSecret(repo, { environment: 'live', app: 'payments', name: 'C_GONE' }, 2);
      await putSecret(repo, { environment: 'live', app: 'payments-admin', name: 'A_PASSWORD' });
      const staging = await putSecret(repo, { environment: 'staging', app: 'payments', name: 'A_PASSWORD' }, 2);
      assert.equal(await repo.delete('live', 'payments', 'C_GONE', at(HOUR), OFFICER), true);

      assert.deepEqual(await repo.latestOfApp('live', 'payments'), [a.versions[2], b.versions[0]], 'deleted secrets, older versions and other apps left out');
      assert.deepEqual(await repo.latestOfApp('staging', 'payments'), [staging.versions[1]]);
      assert.deepEqual(await repo.latestOfApp('staging', 'web'), []);
      assert.deepEqual(await repo.version('live', 'payments', 'C_GONE', 2), destroyed(c.versions[1]!, at(HOUR)), 'its versions are erased');

      const a4 = version({ environment: 'live', app: 'payments', name: 'A_PASSWORD' }, 4);
      await repo.putVersion(a4, headOf(a4, a.head.createdAt));
      assert.deepEqual(await repo.latestOfApp('live', 'payments'), [a4, b.versions[0]], 'a new Put is what the next release snapshots');
    });

    backend.test('delete marks the head and erases every version, once; of 10 at once exactly one wins', async ({ repo }) => {
      const s = await putSecret(repo, { environment: 'live', app: 'payments', name: 'DB_PASSWORD' }, 3);
      const keep = await putSecret(repo, { environment: 'live', app: 'payments', name: 'DB_USER' }, 2);
      const when = at(2 * HOUR + 3);

      assert.equal(await repo.delete('live', 'payments', 'DB_PASSWORD', when, OFFICER), true);
      const expectedHead = { ...s.head, deletedAt: when, deletedBy: OFFICER };
      assert.deepEqual(await repo.head('live', 'payments', 'DB_PASSWORD'), expectedHead);
      for (const v of s.versions) assert.deepEqual(await repo.version('live', 'payments', 'DB_PASSWORD', v.version), destroyed(v, when), `version ${v.version} erased`);

      assert.equal(await repo.delete('live', 'payments', 'DB_PASSWORD', at(3 * HOUR), BOB), false, 'already deleted');
      assert.deepEqual(await repo.head('live', 'payments', 'DB_PASSWORD'), expectedHead, 'the second delete changed nothing');
      for (const v of s.versions) assert.deepEqual(await repo.version('live', 'payments', 'DB_PASSWORD', v.version), destroyed(v, when));
      assert.equal(await repo.delete('live', 'payments', 'NOPE', when, OFFICER), false, 'unknown');
      assert.equal(await repo.delete('staging', 'payments', 'DB_USER', when, OFFICER), false, 'unknown in that environment');

      assert.deepEqual(await repo.head('live', 'payments', 'DB_USER'), keep.head, 'other secrets untouched');
      for (const v of keep.versions) assert.deepEqual(await repo.version('live', 'payments', 'DB_USER', v.version), v);
      assert.deepEqual(await repo.latestOfApp('live', 'payments'), [keep.versions[1]]);
      assert.deepEqual(keys(await repo.list({ app: 'payments', includeDeleted: false }, { limit: 10 })), ['live/payments/DB_USER']);
      assert.deepEqual(keys(await repo.list({ app: 'payments', includeDeleted: true }, { limit: 10 })), ['live/payments/DB_PASSWORD', 'live/payments/DB_USER']);

      const target = await putSecret(repo, { environment: 'staging', app: 'web', name: 'COOKIE_SECRET' }, 2);
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => repo.delete('staging', 'web', 'COOKIE_SECRET', at(HOUR + i), { accountId: `acc-${i}`, email: `o${i}@bank.example` })));
      assert.equal(results.filter(Boolean).length, 1);
      const i = results.indexOf(true);
      assert.deepEqual(await repo.head('staging', 'web', 'COOKIE_SECRET'), { ...target.head, deletedAt: at(HOUR + i), deletedBy: { accountId: `acc-${i}`, email: `o${i}@bank.example` } });
      for (const v of target.versions) assert.deepEqual(await repo.version('staging', 'web', 'COOKIE_SECRET', v.version), destroyed(v, at(HOUR + i)));

      // A later Put re-creates the secret; what was destroyed stays destroyed.
      const v4 = version({ environment: 'live', app: 'payments', name: 'DB_PASSWORD' }, 4);
      await repo.putVersion(v4, headOf(v4, s.head.createdAt));
      assert.deepEqual(await repo.head('live', 'payments', 'DB_PASSWORD'), headOf(v4, s.head.createdAt));
      assert.deepEqual(await repo.latestOfApp('live', 'payments'), [v4, keep.versions[1]]);
      assert.deepEqual(await repo.version('live', 'payments', 'DB_PASSWORD', 3), destroyed(s.versions[2]!, when));
    });

    backend.test('list orders by environment, app and name, filters, and pages after the previous last', async ({ repo }) => {
      const put = async (environment: Environment, app: string, name: string) => (await putSecret(repo, { environment, app, name })).head;
      // Stored out of order on purpose.
      const stagingApiA = await put('staging', 'api', 'A');
      const liveWebA = await put('live', 'web', 'A');
      const liveApiB = await put('live', 'api', 'B');
      const liveApiA = await put('live', 'api', 'A');
      const liveApiC = await put('live', 'api', 'C');
      const stagingApiZ = await put('staging', 'api', 'Z');
      const liveApiAA = await put('live', 'api', 'AA');
      assert.equal(await repo.delete('live', 'api', 'C', at(HOUR), OFFICER), true);
      assert.equal(await repo.delete('staging', 'api', 'Z', at(HOUR), OFFICER), true);
      const liveApiCDeleted = { ...liveApiC, deletedAt: at(HOUR), deletedBy: OFFICER };
      const stagingApiZDeleted = { ...stagingApiZ, deletedAt: at(HOUR), deletedBy: OFFICER };

      const live = [liveApiA, liveApiAA, liveApiB, liveWebA, stagingApiA];
      const all = [liveApiA, liveApiAA, liveApiB, liveApiCDeleted, liveWebA, stagingApiA, stagingApiZDeleted];
      assert.deepEqual(await repo.list({ includeDeleted: false }, { limit: 20 }), live, 'whole heads, in key order');
      assert.deepEqual(await repo.list({ includeDeleted: true }, { limit: 20 }), all);
      assert.deepEqual(keys(await repo.list({ environment: 'staging', includeDeleted: true }, { limit: 20 })), keys([stagingApiA, stagingApiZ]));
      assert.deepEqual(keys(await repo.list({ app: 'api', includeDeleted: false }, { limit: 20 })), keys([liveApiA, liveApiAA, liveApiB, stagingApiA]));
      assert.deepEqual(keys(await repo.list({ environment: 'live', app: 'web', includeDeleted: false }, { limit: 20 })), keys([liveWebA]));
      assert.deepEqual(await repo.list({ app: 'none', includeDeleted: true }, { limit: 20 }), []);
      assert.deepEqual(await repo.list({ includeDeleted: true }, { limit: 0 }), [], 'a page of nothing');

      // Two pages of 3 and the end, over all 7; the boundaries fall inside an app and across an environment.
      const page1 = await repo.list({ includeDeleted: true }, { limit: 3 });
      assert.deepEqual(page1, all.slice(0, 3));
      const after1 = { environment: page1[2]!.environment, app: page1[2]!.app, name: page1[2]!.name };
      const page2 = await repo.list({ includeDeleted: true }, { after: after1, limit: 3 });
      assert.deepEqual(page2, all.slice(3, 6));
      const page3 = await repo.list({ includeDeleted: true }, { after: { environment: page2[2]!.environment, app: page2[2]!.app, name: page2[2]!.name }, limit: 3 });
      assert.deepEqual(page3, all.slice(6));
      assert.deepEqual(await repo.list({ includeDeleted: true }, { after: { environment: 'staging', app: 'api', name: 'Z' }, limit: 3 }), []);

      // Filtered paging skips the deleted ones: pages of 2 over the live API secrets.
      const f1 = await repo.list({ app: 'api', includeDeleted: false }, { limit: 2 });
      const f2 = await repo.list({ app: 'api', includeDeleted: false }, { after: { environment: f1[1]!.environment, app: f1[1]!.app, name: f1[1]!.name }, limit: 2 });
      assert.deepEqual([...keys(f1), ...keys(f2)], keys([liveApiA, liveApiAA, liveApiB, stagingApiA]));
    });

    backend.test('wrappedUnder finds live versions under another master key; rewrap is a compare-and-set on it', async ({ repo }) => {
      const s1 = await putSecret(repo, { environment: 'live', app: 'api', name: 'S1' });
      const s1v2 = version({ environment: 'live', app: 'api', name: 'S1' }, 2, { masterKeyVersion: 2 });
      await repo.putVersion(s1v2, headOf(s1v2, s1.head.createdAt));
      const s2 = await putSecret(repo, { environment: 'live', app: 'api', name: 'S2' });
      const s0 = await putSecret(repo, { environment: 'live', app: 'aaa', name: 'S0' });
      const gone = await putSecret(repo, { environment: 'live', app: 'api', name: 'GONE' });
      assert.equal(await repo.delete('live', 'api', 'GONE', at(HOUR), OFFICER), true);
      const [s0v1, s1v1, s2v1] = [s0.versions[0]!, s1.versions[0]!, s2.versions[0]!];

      assert.deepEqual(await repo.wrappedUnder(2, 10), [s0v1, s1v1, s2v1], 'in key order; destroyed versions have no key to rewrap');
      assert.deepEqual(await repo.wrappedUnder(2, 2), [s0v1, s1v1], 'up to the limit');
      assert.deepEqual(await repo.wrappedUnder(2, 0), []);
      assert.deepEqual(await repo.wrappedUnder(1, 10), [s1v2]);

      assert.equal(await repo.rewrap(s1v1, 1, 'wdk:new-s1', 2), true);
      const rewrapped = { ...s1v1, wrappedDataKey: 'wdk:new-s1', masterKeyVersion: 2 };
      assert.deepEqual(await repo.version('live', 'api', 'S1', 1), rewrapped, 'only the wrapped key and its master version change');
      assert.equal(await repo.rewrap(s1v1, 1, 'wdk:stale', 2), false, 'no longer under master key 1');
      assert.equal(await repo.rewrap(s1v1, 3, 'wdk:stale', 4), false, 'nor under 3');
      assert.deepEqual(await repo.version('live', 'api', 'S1', 1), rewrapped, 'the losing rewraps changed nothing');
      assert.equal(await repo.rewrap(gone.versions[0]!, 1, 'wdk:back', 2), false, 'a destroyed version gets no key back');
      assert.deepEqual(await repo.version('live', 'api', 'GONE', 1), destroyed(gone.versions[0]!, at(HOUR)));
      assert.equal(await repo.rewrap({ ...s2v1, version: 9 }, 1, 'wdk:x', 2), false, 'unknown version');

      // Two rotations racing on one version: exactly one rewraps it.
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => repo.rewrap(s2v1, 1, `wdk:racer-${i}`, 2)));
      assert.equal(results.filter(Boolean).length, 1);
      assert.deepEqual(await repo.version('live', 'api', 'S2', 1), { ...s2v1, wrappedDataKey: `wdk:racer-${results.indexOf(true)}`, masterKeyVersion: 2 });

      assert.equal(await repo.rewrap(s0v1, 1, 'wdk:new-s0', 2), true);
      assert.deepEqual(await repo.wrappedUnder(2, 10), [], 'rotation done');
      assert.deepEqual(keys(await repo.wrappedUnder(3, 10)), ['live/aaa/S0', 'live/api/S1', 'live/api/S1', 'live/api/S2']);
    });

    backend.test('operator-like values are plain strings: nothing is matched or changed', async ({ repo }) => {
      const odd = await putSecret(repo, { environment: 'live', app: '{"$ne":null}', name: '{"$gt":""}' });
      const plain = await putSecret(repo, { environment: 'live', app: 'payments', name: 'DB_PASSWORD' }, 2);
      const pv = plain.versions[1]!;

      assert.equal(await repo.head('live', '$ne', '$ne'), undefined);
      assert.equal(await repo.head('live', 'payments', '{"$ne":null}'), undefined);
      assert.equal(await repo.head('$ne' as Environment, 'payments', 'DB_PASSWORD'), undefined);
      assert.deepEqual(await repo.head('live', '{"$ne":null}', '{"$gt":""}'), odd.head, 'the literal values are ordinary data');
      assert.equal(await repo.version('live', 'payments', '$ne', 1), undefined);
      assert.deepEqual(await repo.latestOfApp('live', '$ne'), []);
      assert.deepEqual(await repo.latestOfApp('{"$ne":null}' as Environment, 'payments'), []);
      assert.deepEqual(await repo.list({ app: '$ne', includeDeleted: true }, { limit: 10 }), []);
      assert.deepEqual(await repo.list({ environment: '{"$ne":null}' as Environment, includeDeleted: true }, { limit: 10 }), []);
      assert.equal(await repo.delete('live', 'payments', '$ne', at(HOUR), OFFICER), false);
      assert.equal(await repo.delete('live', '{"$gt":""}', '{"$ne":null}', at(HOUR), OFFICER), false);
      assert.equal(await repo.rewrap({ ...pv, name: '$ne' }, 1, 'wdk:x', 2), false);
      assert.equal(await repo.rewrap({ ...pv, app: '{"$ne":null}' }, 1, 'wdk:x', 2), false);

      assert.ok(nothing(await settle(repo.head('live', OPERATOR, OPERATOR))), 'head: operator objects match nothing');
      assert.ok(nothing(await settle(repo.head(OPERATOR as Environment, 'payments', 'DB_PASSWORD'))), 'head: environment');
      assert.ok(nothing(await settle(repo.version('live', 'payments', 'DB_PASSWORD', OPERATOR as unknown as number))), 'version: number');
      assert.ok(nothing(await settle(repo.latestOfApp('live', OPERATOR))), 'latestOfApp');
      assert.ok(nothing(await settle(repo.list({ app: OPERATOR, includeDeleted: true }, { limit: 10 }))), 'list: app');
      assert.ok(nothing(await settle(repo.delete('live', 'payments', OPERATOR, at(HOUR), OFFICER))), 'delete: name');
      assert.ok(nothing(await settle(repo.delete('live', OPERATOR, 'DB_PASSWORD', at(HOUR), OFFICER))), 'delete: app');
      assert.ok(nothing(await settle(repo.rewrap({ ...pv, name: OPERATOR }, 1, 'wdk:x', 2))), 'rewrap: name');
      assert.ok(nothing(await settle(repo.rewrap(pv, OPERATOR as unknown as number, 'wdk:x', 2))), 'rewrap: master version');
      assert.ok(nothing(await settle(repo.wrappedUnder(OPERATOR as unknown as number, 10))), 'not "every version"');

      assert.deepEqual(await repo.head('live', 'payments', 'DB_PASSWORD'), plain.head, 'nothing was deleted');
      for (const v of plain.versions) assert.deepEqual(await repo.version('live', 'payments', 'DB_PASSWORD', v.version), v, 'nothing was erased or rewrapped');
      assert.deepEqual(await repo.head('live', '{"$ne":null}', '{"$gt":""}'), odd.head);

      const by = { accountId: '$ne', email: '{"$ne":null}' };
      assert.equal(await repo.delete('live', '{"$ne":null}', '{"$gt":""}', at(HOUR), by), true, 'only the secret with those literal values');
      assert.deepEqual(await repo.head('live', '{"$ne":null}', '{"$gt":""}'), { ...odd.head, deletedAt: at(HOUR), deletedBy: by }, 'its values stored as text');
      assert.deepEqual(await repo.head('live', 'payments', 'DB_PASSWORD'), plain.head);
      assert.deepEqual(await repo.latestOfApp('live', 'payments'), [pv]);
    });
  },
);
