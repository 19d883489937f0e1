// The benches' shared helpers: store probe, fsync-free seeding, in-process and load-process timers,
// phase merging and the port breakdown, on small in-memory cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openSqlite, type SqliteMigration } from '@gatehouse/storage';
import {
  catchInstance,
  closedLoop,
  driveClosedLoop,
  driveEach,
  mergePhases,
  portBreakdown,
  probed,
  probeStore,
  tempDir,
  timedEach,
  unsynced,
  type LoadPhase,
} from './index.js';

const migrations: SqliteMigration[] = [{ id: 'items/0001', up: (db) => db.exec('CREATE TABLE item (code TEXT PRIMARY KEY) STRICT;') }];

test('probeStore() counts calls, commits and classes while attached, and detach() restores the store', async (t) => {
  const dir = await tempDir('probe');
  t.after(() => dir.cleanup());
  const store = openSqlite({ file: path.join(dir.path, 'p.db'), migrations });
  t.after(() => store.close());
  const { exec, run } = store;
  const probe = probeStore(store, (kind) => kind);
  await store.exec(undefined, (db) => db.prepare('SELECT COUNT(*) FROM item').get());
  await store.exec(undefined, (db) => db.prepare('INSERT INTO item VALUES (?)').run('a'));
  await store.run(async (tx) => store.exec(tx, (db) => db.prepare('INSERT INTO item VALUES (?)').run('b')));
  probe.detach();
  await store.exec(undefined, (db) => db.prepare('INSERT INTO item VALUES (?)').run('c'));
  assert.equal(probe.counts.calls, 3);
  assert.equal(probe.counts.commits, 2);
  assert.deepEqual({ ...probe.byClass.get('exec'), heldMs: 0, waitedMs: 0 }, { calls: 2, commits: 1, heldMs: 0, waitedMs: 0 });
  assert.equal(probe.byClass.get('run')?.commits, 1);
  assert.ok(probe.counts.heldMs >= 0 && probe.counts.waitedMs >= 0);
  assert.equal(store.exec, exec);
  assert.equal(store.run, run);

  const seeded = await probed(store, () => unsynced(store, async () => store.db.pragma('synchronous', { simple: true })));
  assert.equal(seeded.result, 0, 'fsync is off inside unsynced()');
  assert.equal(store.db.pragma('synchronous', { simple: true }), 2, 'and FULL again after it');
  assert.ok(seeded.cpuMs >= 0 && seeded.elu.active >= 0);
  assert.equal(store.exec, exec, 'probed() detaches its probe');
});

test('closedLoop() runs for its time with every worker busy; timedEach() runs each index once', async () => {
  const seen: number[] = [];
  const loop = await closedLoop(0.05, 3, async (i) => {
    seen.push(i);
    await new Promise((r) => setTimeout(r, 2));
  });
  assert.equal(loop.calls, seen.length);
  assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: seen.length }, (_, i) => i));
  assert.ok(loop.ms >= 50 && loop.latencies.every((l) => l > 0));

  const each: number[] = [];
  const once = await timedEach(10, 4, async (i) => void each.push(i));
  assert.equal(once.calls, 10);
  assert.deepEqual([...each].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('driveEach() and driveClosedLoop() count failures apart, keeping the first five messages', async () => {
  const r = await driveEach(20, 4, async (i) => {
    if (i % 2) throw new Error(`odd ${i}`);
  });
  assert.equal(r.calls, 10);
  assert.equal(r.latencies.length, 10);
  assert.equal(r.errorCount, 10);
  assert.equal(r.errors.length, 5);

  const sent: string[] = [];
  const loop = await driveClosedLoop(
    { offset: 1, seconds: 0.03, startAt: Date.now() + 10, inFlight: 2 },
    ['a', 'b', 'c'],
    async (x) => {
      sent.push(x);
      await new Promise((res) => setTimeout(res, 1));
      return x;
    },
    { warmUps: 2, check: (x) => assert.notEqual(x, 'c') },
  );
  assert.deepEqual(sent.slice(0, 3), ['b', 'c', 'b'], 'warm-up from the offset, then the loop from the offset again');
  assert.equal(loop.calls + loop.errorCount, sent.length - 2);
  assert.ok(loop.errorCount > 0 && loop.calls > 0);
});

test('mergePhases() averages the rates and pools latencies and CPU per call', () => {
  const phase = (rate: number, calls: number, serverCpuMs: number): LoadPhase => ({ rate, calls, latencies: [rate], serverCpuMs, clientCpuMs: 2 * serverCpuMs, results: [] });
  const f = mergePhases([phase(100, 10, 5), phase(300, 30, 15)]);
  assert.equal(f.rate, 200);
  assert.equal(f.calls, 40);
  assert.deepEqual(f.latencies, [100, 300]);
  assert.equal(f.serverCpuPerCallMs, 0.5);
  assert.equal(f.clientCpuPerCallMs, 1);
});

test('catchInstance() finds the domain object and portBreakdown() times its ports, then restores both', async () => {
  class Repo {
    async get(): Promise<number> {
      await new Promise((r) => setTimeout(r, 1));
      return 1;
    }
    now(): number {
      return 2;
    }
  }
  class Domain {
    constructor(readonly d: { repo: object }) {}
    status(): string {
      return 'ok';
    }
    async work(): Promise<number> {
      const repo = this.d.repo as Repo;
      return (await repo.get()) + repo.now();
    }
  }
  const repo = new Repo();
  const domain = new Domain({ repo });
  const status = Domain.prototype.status;
  const caught = await catchInstance(Domain, 'status', async () => domain.status());
  assert.equal(caught, domain);
  assert.equal(Domain.prototype.status, status);
  await assert.rejects(catchInstance(Domain, 'status', async () => undefined), /status did not reach the Domain domain object/);

  const bd = await portBreakdown(domain.d, ['repo'], 4, async () => assert.equal(await domain.work(), 3), 10);
  assert.equal(domain.d.repo, repo);
  assert.equal(bd.lines.length, 3);
  assert.match(bd.lines[0] ?? '', /^repo\.get {3}\d+\.\d{3} ms {2}x1\.0$/);
  assert.match(bd.lines[1] ?? '', /^repo\.now {3}\d+\.\d{3} ms {2}x1\.0$/);
  assert.match(bd.lines[2] ?? '', /^rest \(domain work\) -?\d+\.\d{3} ms$/);
  assert.ok(bd.meanMs > 0);
});
