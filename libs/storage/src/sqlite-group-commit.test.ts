import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DuplicateKeyError, openSqlite, sqliteTx, type SqliteMigration, type SqliteStore } from './index.js';
import { GROUP_COMMIT_MAX_UNITS } from './sqlite-store.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-group-commit-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshFile = () => path.join(root, `case-${++n}`, 'svc.db');
const migrations: SqliteMigration[] = [
  { id: 'test/0001-item', up: (db) => db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE) STRICT') },
];

/** Counts the COMMITs the store's connection runs (the fsyncs a caller pays for). */
function countCommits(store: SqliteStore): { commits: () => number; log: string[] } {
  const log: string[] = [];
  const exec = store.db.exec.bind(store.db);
  store.db.exec = ((sql: string) => {
    if (sql.trim().toUpperCase() === 'COMMIT') log.push('COMMIT');
    return exec(sql);
  }) as typeof store.db.exec;
  return { commits: () => log.filter((l) => l === 'COMMIT').length, log };
}

const insert = (store: SqliteStore, code: string) =>
  store.run(async (tx) => {
    sqliteTx(tx).prepare('INSERT INTO item (code) VALUES (?)').run(code);
    await Promise.resolve(); // an await inside the unit, as repositories have
    return code;
  });

/** What another connection (another process, after a crash) finds in the file. */
const codesOnDisk = (file: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT code FROM item ORDER BY code').pluck().all() as string[]).sort();
  } finally {
    db.close();
  }
};

describe('SQLite group commit (issue 14 item 2)', () => {
  it('200 concurrent units share a few COMMITs, and every one is on disk when its caller hears OK', async () => {
    const file = freshFile();
    const store = openSqlite({ file, migrations });
    const { commits } = countCommits(store);
    const codes = Array.from({ length: 200 }, (_, i) => `c${String(i).padStart(3, '0')}`);
    const onDiskWhenResolved: boolean[] = [];
    await Promise.all(
      codes.map((c) =>
        insert(store, c).then(() => {
          onDiskWhenResolved.push(codesOnDisk(file).includes(c));
        }),
      ),
    );
    assert.equal(onDiskWhenResolved.length, 200);
    assert.ok(onDiskWhenResolved.every(Boolean), 'a caller heard OK before its unit was committed');
    assert.ok(commits() <= Math.ceil(200 / GROUP_COMMIT_MAX_UNITS) + 2, `expected a handful of COMMITs for 200 units, got ${commits()}`);
    assert.ok(commits() >= Math.ceil(200 / GROUP_COMMIT_MAX_UNITS), `a batch carries at most ${GROUP_COMMIT_MAX_UNITS} units, got ${commits()} COMMITs`);
    assert.deepEqual(codesOnDisk(file), codes);
    console.log(`group commit: 200 concurrent units, ${commits()} COMMITs`);
    await store.close();
  });

  it('a unit that fails inside a batch rolls back alone: the others commit, its caller gets its own error', async () => {
    const file = freshFile();
    const store = openSqlite({ file, migrations });
    await insert(store, 'taken');
    const { commits } = countCommits(store);
    const results = await Promise.allSettled([
      insert(store, 'a'),
      insert(store, 'b'),
      store.run(async (tx) => {
        sqliteTx(tx).prepare('INSERT INTO item (code) VALUES (?)').run('half-done');
        sqliteTx(tx).prepare('INSERT INTO item (code) VALUES (?)').run('taken'); // duplicate: the unit fails
      }),
      store.run(async (tx) => {
        sqliteTx(tx).prepare('INSERT INTO item (code) VALUES (?)').run('thrown');
        throw new Error('the use case refused');
      }),
      insert(store, 'c'),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled'],
    );
    assert.ok((results[2] as PromiseRejectedResult).reason instanceof DuplicateKeyError);
    assert.match(String((results[3] as PromiseRejectedResult).reason), /the use case refused/);
    assert.deepEqual(codesOnDisk(file), ['a', 'b', 'c', 'taken'], 'neither failed unit left a row; the others did');
    assert.ok(commits() < 5, `the surviving units shared commits (got ${commits()})`);
    await store.close();
  });

  it('a failed COMMIT fails every unit of its batch, and none of their writes is on disk', async () => {
    const file = freshFile();
    const store = openSqlite({ file, migrations });
    await insert(store, 'before');
    const exec = store.db.exec.bind(store.db);
    let failNext = true;
    store.db.exec = ((sql: string) => {
      if (failNext && sql.trim().toUpperCase() === 'COMMIT') {
        failNext = false;
        throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
      }
      return exec(sql);
    }) as typeof store.db.exec;
    const results = await Promise.allSettled([insert(store, 'x'), insert(store, 'y'), insert(store, 'z')]);
    assert.ok(results.every((r) => r.status === 'rejected'), `every unit of the failed batch is told: ${JSON.stringify(results.map((r) => r.status))}`);
    assert.deepEqual(codesOnDisk(file), ['before']);
    // The store goes on working afterwards.
    assert.equal(await insert(store, 'after'), 'after');
    assert.deepEqual(codesOnDisk(file), ['after', 'before']);
    await store.close();
  });

  it('units asked for from separate callbacks of one turn of the event loop share a COMMIT (use cases reached after their own round trips)', async () => {
    const file = freshFile();
    const store = openSqlite({ file, migrations });
    const { commits } = countCommits(store);
    // Each unit is asked for from an I/O-like callback of its own (here: its own setImmediate
    // callback, microtasks drained in between), as a service's use cases are when each resumes
    // after its own network round trip: nobody is queued for the lock when one of them ends.
    const codes = Array.from({ length: 16 }, (_, i) => `cb${String(i).padStart(2, '0')}`);
    const done = await Promise.all(codes.map((c) => new Promise<string>((resolve, reject) => setImmediate(() => void insert(store, c).then(resolve, reject)))));
    assert.deepEqual(done, codes);
    assert.deepEqual(codesOnDisk(file), codes, 'every unit is on disk');
    assert.ok(commits() <= 2, `16 units of one turn share their COMMIT, got ${commits()} COMMITs`);
    await store.close();
  });

  it('a lone unit commits at once (no waiting for company)', async () => {
    const file = freshFile();
    const store = openSqlite({ file, migrations });
    const { commits } = countCommits(store);
    for (let i = 0; i < 5; i++) {
      await insert(store, `solo${i}`);
      assert.equal(commits(), i + 1);
      assert.ok(codesOnDisk(file).includes(`solo${i}`));
    }
    await store.close();
  });
});
