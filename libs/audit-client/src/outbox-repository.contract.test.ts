// The one contract every OutboxRepository adapter must meet, run on SQLite and on MongoDB.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Transaction, UnitOfWork } from '@gatehouse/core';
import { openMongo, openSqlite } from '@gatehouse/storage';
import { describeRepositoryContract, type CaseEnv } from '@gatehouse/testing';
import {
  MongoOutboxRepository,
  SqliteOutboxRepository,
  outboxMongoIndexes,
  outboxSqliteMigrations,
  type OutboxEvent,
  type OutboxRepository,
} from './index.js';

interface Ctx {
  uow: UnitOfWork & { close(): Promise<void> };
  outbox: OutboxRepository;
}

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const at = (seconds: number) => new Date(T0 + seconds * 1000);
const bytes = (text: string) => new TextEncoder().encode(text);
const event = (eventId: string, createdAtSeconds = 0, payload: Uint8Array = bytes(`payload of ${eventId}`)): OutboxEvent => ({
  eventId,
  payload,
  createdAt: at(createdAtSeconds),
});
const ids = (records: readonly { eventId: string }[]) => records.map((r) => r.eventId);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LATER = at(3600);

const crashWriter = fileURLToPath(new URL('./test-fixtures/outbox-crash-writer.ts', import.meta.url));

/** Starts the crash writer, lets it commit a few batches, SIGKILLs it; returns the batches it reported. */
async function writeThenKill(args: string[]): Promise<number[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', crashWriter, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const committed: number[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`crash writer too slow; stderr: ${stderr}`)), 20_000);
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /^committed (\d+)$/.exec(line);
      if (match) committed.push(Number(match[1]));
      if (committed.length === 8) {
        child.kill('SIGKILL'); // mid-flight: it is already writing the next batch
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`crash writer exited on its own (${code}); stderr: ${stderr}`));
    });
  });
  await exited;
  assert.equal(child.signalCode, 'SIGKILL');
  return committed;
}

describeRepositoryContract<Ctx>(
  'outbox',
  {
    sqlite: async (dir) => {
      const store = openSqlite({ file: path.join(dir, 'outbox.db'), migrations: outboxSqliteMigrations });
      return { uow: store, outbox: new SqliteOutboxRepository(store) };
    },
    mongodb: async (url, dbName) => {
      const store = await openMongo({ url, dbName, migrations: [], indexes: outboxMongoIndexes });
      return { uow: store, outbox: new MongoOutboxRepository(store) };
    },
    close: (ctx) => ctx.uow.close(),
  },
  (backend) => {
    backend.test('add then pending returns the events in insertion order, payloads intact', async ({ uow, outbox }) => {
      const big = new Uint8Array(256 * 1024).map((_, i) => i % 251);
      await uow.run((tx) => outbox.add(tx, [event('e1', 5), event('e2', 6, new Uint8Array(0)), event('e3', 7, big)]));
      const pending = await outbox.pending(10, LATER);
      assert.deepEqual(ids(pending), ['e1', 'e2', 'e3']);
      const seqs = pending.map((r) => r.seq);
      assert.ok(seqs.every((n, i) => Number.isSafeInteger(n) && n > 0 && (i === 0 || n > seqs[i - 1]!)), `seq numbers the insertion order (${seqs.join(', ')})`);
      const { seq: _seq, ...first } = pending[0] ?? { seq: 0 };
      assert.deepEqual(first, {
        eventId: 'e1',
        payload: bytes('payload of e1'),
        createdAt: at(5),
        attempts: 0,
        nextAttemptAt: at(5),
      });
      assert.deepEqual(pending[1]?.payload, new Uint8Array(0));
      assert.deepEqual(pending[2]?.payload, big);
      assert.equal(Object.getPrototypeOf(pending[2]?.payload), Uint8Array.prototype, 'a plain Uint8Array, not a driver Buffer');
    });

    backend.test('insertion order wins over createdAt, across separate adds', async ({ outbox }) => {
      await outbox.addNow([event('late', 30)]);
      await outbox.addNow([event('early', 10), event('middle', 20)]);
      await outbox.addNow([event('earliest', 0)]);
      assert.deepEqual(ids(await outbox.pending(10, LATER)), ['late', 'early', 'middle', 'earliest']);
    });

    backend.test('pending honours the limit and only returns events due by now', async ({ outbox }) => {
      await outbox.addNow([event('a', 0), event('b', 10), event('c', 20), event('d', 30)]);
      assert.deepEqual(ids(await outbox.pending(2, LATER)), ['a', 'b']);
      assert.deepEqual(ids(await outbox.pending(10, at(10))), ['a', 'b'], 'nextAttemptAt <= now is inclusive');
      assert.deepEqual(ids(await outbox.pending(10, at(-1))), []);
      await assert.rejects(outbox.pending(0, LATER), RangeError);
    });

    backend.test('adding an eventId twice keeps the first copy, across calls and within a batch', async ({ uow, outbox }) => {
      await outbox.addNow([event('dup', 0, bytes('first')), event('x', 1)]);
      await uow.run((tx) => outbox.add(tx, [event('dup', 5, bytes('second')), event('y', 2), event('y', 3, bytes('y again'))]));
      await outbox.addNow([event('dup', 9, bytes('third'))]);
      const pending = await outbox.pending(10, LATER);
      assert.deepEqual(ids(pending), ['dup', 'x', 'y']);
      assert.deepEqual((await outbox.get('dup'))?.payload, bytes('first'));
      assert.deepEqual((await outbox.get('dup'))?.createdAt, at(0));
      assert.deepEqual((await outbox.get('y'))?.payload, bytes('payload of y'));
      assert.equal(await outbox.countPending(), 3);
    });

    backend.test('events added in a transaction that then throws leave nothing behind', async ({ uow, outbox }) => {
      await outbox.addNow([event('kept')]);
      await assert.rejects(
        uow.run(async (tx) => {
          await outbox.add(tx, [event('ghost-1'), event('ghost-2')]);
          throw new Error('the state change failed');
        }),
        /the state change failed/,
      );
      assert.deepEqual(ids(await outbox.pending(10, LATER)), ['kept']);
      assert.equal(await outbox.get('ghost-1'), undefined);
      // The sequence may have gaps now; order is still insertion order.
      await outbox.addNow([event('after')]);
      assert.deepEqual(ids(await outbox.pending(10, LATER)), ['kept', 'after']);
    });

    backend.test('add() writes inside the caller\'s transaction and refuses one that has finished', async ({ uow, outbox }) => {
      let leaked: Transaction | undefined;
      await uow.run(async (tx) => {
        leaked = tx;
        await outbox.add(tx, [event('one')]);
        await outbox.add(tx, [event('two')]);
      });
      assert.deepEqual(ids(await outbox.pending(10, LATER)), ['one', 'two']);
      await assert.rejects(outbox.add(leaked!, [event('late')]), /already finished/);
      assert.equal(await outbox.get('late'), undefined);
    });

    backend.test('a reader never sees events of a transaction that has not committed', async ({ uow, outbox }) => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let committed = false;
      const writer = uow
        .run(async (tx) => {
          await outbox.add(tx, [event('in-flight')]);
          await gate;
        })
        .then(() => (committed = true));
      await sleep(20);
      const reader = outbox.pending(10, LATER).then((records) => ({ ids: ids(records), committedBefore: committed }));
      await sleep(20);
      release();
      await writer;
      const seen = await reader;
      assert.deepEqual(seen.ids, seen.committedBefore ? ['in-flight'] : []);
    });

    backend.test('markShipped removes events from pending and records audit\'s sequence, first ack wins', async ({ outbox }) => {
      await outbox.addNow([event('a'), event('b'), event('c')]);
      assert.equal(await outbox.markShipped([{ eventId: 'a', sequence: 100 }, { eventId: 'c', sequence: 101 }], at(60)), 2);
      assert.deepEqual(ids(await outbox.pending(10, LATER)), ['b']);
      assert.equal(await outbox.countPending(), 1);
      const a = await outbox.get('a');
      assert.equal(a?.sequence, 100);
      assert.deepEqual(a?.shippedAt, at(60));
      assert.equal(await outbox.markShipped([{ eventId: 'a', sequence: 999 }, { eventId: 'unknown', sequence: 5 }], at(90)), 0);
      assert.equal((await outbox.get('a'))?.sequence, 100);
      assert.deepEqual((await outbox.get('a'))?.shippedAt, at(60));
      assert.equal(await outbox.markShipped([], at(90)), 0);
      await assert.rejects(outbox.markShipped([{ eventId: 'b', sequence: -1 }], at(90)), RangeError);
    });

    backend.test('markFailed counts attempts, keeps the sanitized error and defers the event', async ({ outbox }) => {
      await outbox.addNow([event('a', 0), event('b', 1)]);
      assert.equal(await outbox.markFailed(['a'], 'audit unavailable (UNAVAILABLE)', at(120)), 1);
      assert.deepEqual(ids(await outbox.pending(10, at(60))), ['b'], 'a waits for its back-off');
      assert.deepEqual(ids(await outbox.pending(10, at(120))), ['a', 'b'], 'then comes back in insertion order');
      assert.equal(await outbox.markFailed(['a', 'a', 'missing'], 'deadline exceeded', at(300)), 1);
      const a = await outbox.get('a');
      assert.equal(a?.attempts, 2);
      assert.equal(a?.lastError, 'deadline exceeded');
      assert.deepEqual(a?.nextAttemptAt, at(300));
      assert.equal(await outbox.countPending(), 2, 'deferred events still count as pending');
      const long = 'x'.repeat(5_000);
      await outbox.markFailed(['b'], long, at(300));
      assert.ok(((await outbox.get('b'))?.lastError?.length ?? 0) <= 1_000, 'error text is clipped');
    });

    backend.test('a shipped event is never marked failed again', async ({ outbox }) => {
      await outbox.addNow([event('a')]);
      await outbox.markShipped([{ eventId: 'a', sequence: 7 }], at(10));
      assert.equal(await outbox.markFailed(['a'], 'late failure', at(999)), 0);
      const a = await outbox.get('a');
      assert.equal(a?.attempts, 0);
      assert.equal(a?.lastError, undefined);
      assert.deepEqual(a?.shippedAt, at(10));
    });

    backend.test('purgeShipped deletes only events shipped before the cutoff', async ({ outbox }) => {
      await outbox.addNow([event('old'), event('recent'), event('unshipped')]);
      await outbox.markShipped([{ eventId: 'old', sequence: 1 }], at(100));
      await outbox.markShipped([{ eventId: 'recent', sequence: 2 }], at(200));
      assert.equal(await outbox.purgeShipped(at(150)), 1);
      assert.equal(await outbox.get('old'), undefined);
      assert.equal((await outbox.get('recent'))?.sequence, 2);
      assert.equal(await outbox.purgeShipped(at(10_000)), 1);
      assert.deepEqual(ids(await outbox.pending(10, LATER)), ['unshipped'], 'pending events are never purged');
      await outbox.addNow([event('next')]);
      assert.deepEqual(ids(await outbox.pending(10, LATER)), ['unshipped', 'next'], 'order survives a purge');
    });

    backend.test('hostile eventIds are stored and found as plain strings (NoSQL injection, ASVS 1.2.4)', async ({ uow, outbox }) => {
      await outbox.addNow([event('ordinary')]);
      const hostile = ['{"$ne": null}', '{"$gt": ""}', '$where', '$ne', 'a.b', 'a.$.b', '.', '$', 'this.eventId == this.eventId || true', "'; DROP TABLE audit_outbox; --"];
      for (const id of hostile) assert.equal(await outbox.get(id), undefined, `${id} matches nothing before it exists`);
      await uow.run((tx) => outbox.add(tx, hostile.map((id) => event(id))));
      for (const id of hostile) {
        const record = await outbox.get(id);
        assert.equal(record?.eventId, id);
        assert.deepEqual(record?.payload, bytes(`payload of ${id}`));
      }
      assert.deepEqual(ids(await outbox.pending(100, LATER)), ['ordinary', ...hostile]);
      assert.equal(await outbox.markShipped([{ eventId: '$where', sequence: 1 }], at(1)), 1);
      assert.equal(await outbox.markFailed(['{"$ne": null}'], 'nope', LATER), 1);
      assert.equal((await outbox.get('ordinary'))?.attempts, 0);
      assert.equal((await outbox.get('ordinary'))?.shippedAt, undefined);
      assert.equal(await outbox.countPending(), hostile.length);
    });

    backend.test('non-string eventIds are refused before any query is built', async ({ uow, outbox }) => {
      const operator = { $ne: null } as unknown as string;
      await assert.rejects(outbox.addNow([{ eventId: operator, payload: bytes('x'), createdAt: at(0) }]), TypeError);
      await assert.rejects(uow.run((tx) => outbox.add(tx, [{ eventId: operator, payload: bytes('x'), createdAt: at(0) }])), TypeError);
      await assert.rejects(outbox.get(operator), TypeError);
      await assert.rejects(outbox.markFailed([operator], 'x', LATER), TypeError);
      await assert.rejects(outbox.markShipped([{ eventId: operator, sequence: 1 }], at(0)), TypeError);
      await assert.rejects(outbox.addNow([event('')]), RangeError);
      await assert.rejects(outbox.addNow([{ eventId: 'p', payload: 'text' as unknown as Uint8Array, createdAt: at(0) }]), TypeError);
      assert.equal(await outbox.countPending(), 0);
    });

    backend.test('events survive closing and reopening the store', async ({ outbox }, env: CaseEnv<Ctx>) => {
      await outbox.addNow([event('a', 0), event('b', 1)]);
      await outbox.markFailed(['b'], 'retry later', at(50));
      await outbox.markShipped([{ eventId: 'a', sequence: 3 }], at(20));
      const { outbox: reopened } = await env.reopen();
      const { seq: seqA, ...a } = (await reopened.get('a')) ?? { seq: 0 };
      assert.deepEqual(a, {
        eventId: 'a',
        payload: bytes('payload of a'),
        createdAt: at(0),
        attempts: 0,
        nextAttemptAt: at(0),
        shippedAt: at(20),
        sequence: 3,
      });
      assert.equal((await reopened.get('b'))?.attempts, 1);
      await reopened.addNow([event('c', 2)]);
      assert.deepEqual(ids(await reopened.pending(10, LATER)), ['b', 'c']);
      const seqB = (await reopened.get('b'))?.seq ?? 0;
      const seqC = (await reopened.get('c'))?.seq ?? 0;
      assert.ok(seqA > 0 && seqB > seqA && seqC > seqB, `the insertion number goes on after reopening, never restarting (${seqA}, ${seqB}, ${seqC})`);
    });

    backend.test('every event committed by a process killed with SIGKILL is pending after restart', { timeout: 40_000 }, async (ctx, env) => {
      await ctx.uow.close(); // the service is down; the writer process owns the store now
      const args = env.backend === 'sqlite' ? ['sqlite', path.join(env.dir, 'outbox.db')] : ['mongodb', env.mongo!.url, env.mongo!.dbName];
      const committed = await writeThenKill(args);
      const { outbox } = await env.reopen();
      const pending = await outbox.pending(10_000, new Date(Date.now() + 60_000));
      const batches = new Map<number, string[]>();
      for (const record of pending) {
        const match = /^crash-(\d+)-(\d)$/.exec(record.eventId);
        assert.ok(match, record.eventId);
        batches.set(Number(match[1]), [...(batches.get(Number(match[1])) ?? []), record.eventId]);
        assert.equal(record.attempts, 0);
        assert.equal(record.shippedAt, undefined);
      }
      for (const batch of committed) assert.equal(batches.get(batch)?.length, 3, `batch ${batch} was reported committed`);
      for (const [batch, events] of batches) assert.equal(events.length, 3, `batch ${batch} is all or nothing`);
      const expectedOrder = [...batches.keys()].sort((a, b) => a - b).flatMap((b) => [0, 1, 2].map((i) => `crash-${b}-${i}`));
      assert.deepEqual(ids(pending), expectedOrder, 'insertion order survives the crash');
      assert.equal(await outbox.countPending(), pending.length);
    });

    backend.test('concurrent writers each keep every event, in one strict order', { requires: ['write-conflicts'] }, async ({ uow, outbox }) => {
      await Promise.all(
        Array.from({ length: 10 }, (_, w) =>
          (async () => {
            for (let i = 0; i < 5; i++) await uow.run((tx) => outbox.add(tx, [event(`w${w}-${i}`)]));
          })(),
        ),
      );
      const pending = await outbox.pending(100, LATER);
      assert.equal(pending.length, 50);
      assert.equal(new Set(ids(pending)).size, 50);
      for (let w = 0; w < 10; w++) {
        const mine = ids(pending).filter((id) => id.startsWith(`w${w}-`));
        assert.deepEqual(mine, [0, 1, 2, 3, 4].map((i) => `w${w}-${i}`), `writer ${w}'s events keep their order`);
      }
    });
  },
);
