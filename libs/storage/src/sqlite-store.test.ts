import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Transaction } from '@gatehouse/core';
import {
  DuplicateKeyError,
  MigrationError,
  StoreClosedError,
  TransactionMisuseError,
  openSqlite,
  openStore,
  sqliteTx,
  type SqliteDatabase,
  type SqliteMigration,
} from './index.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-storage-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshFile = () => path.join(root, `case-${++n}`, 'svc.db');

const counterTable: SqliteMigration = {
  id: 'test/0001-counter',
  up: (db) => db.exec('CREATE TABLE counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT'),
};
const uniqueTable: SqliteMigration = {
  id: 'test/0002-unique',
  up: (db) => db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE) STRICT'),
};
const migrations = [counterTable, uniqueTable];

const read = (db: SqliteDatabase, name = 'c') =>
  (db.prepare('SELECT value FROM counter WHERE name = ?').pluck().get(name) as number | undefined) ?? 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SQLite migrations', () => {
  it('applies each migration once, however often the store is opened', async () => {
    const file = freshFile();
    let calls = 0;
    const counted: SqliteMigration[] = [{ id: 'test/0001', up: (db) => (calls++, counterTable.up(db)) }];
    await openSqlite({ file, migrations: counted }).close();
    await openSqlite({ file, migrations: counted }).close();
    const store = openSqlite({ file, migrations: counted });
    assert.equal(calls, 1);
    const rows = store.db.prepare('SELECT id, applied_at FROM schema_migrations').all() as { id: string; applied_at: string }[];
    assert.deepEqual(rows.map((r) => r.id), ['test/0001']);
    assert.ok(!Number.isNaN(Date.parse(rows[0]!.applied_at)));
    await store.close();
  });

  it('applies only the migrations added since the last start, in list order', async () => {
    const file = freshFile();
    await openSqlite({ file, migrations: [counterTable] }).close();
    const store = openSqlite({ file, migrations });
    const ids = store.db.prepare('SELECT id FROM schema_migrations ORDER BY rowid').pluck().all();
    assert.deepEqual(ids, ['test/0001-counter', 'test/0002-unique']);
    await store.close();
  });

  it('refuses to start on a database written by a newer version (downgrade)', async () => {
    const file = freshFile();
    await openSqlite({ file, migrations }).close();
    assert.throws(
      () => openSqlite({ file, migrations: [counterTable] }),
      (err: unknown) =>
        err instanceof MigrationError && /test\/0002-unique/.test(err.message) && /newer version/.test(err.message),
    );
  });

  it('rolls a failing migration back completely and names it', async () => {
    const file = freshFile();
    const broken: SqliteMigration = {
      id: 'test/0003-broken',
      up: (db) => {
        db.exec('CREATE TABLE half (x INTEGER)');
        throw new Error('boom');
      },
    };
    assert.throws(() => openSqlite({ file, migrations: [counterTable, broken] }), /test\/0003-broken.*boom/);
    const store = openSqlite({ file, migrations: [counterTable] });
    assert.equal(store.db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half'").pluck().get(), 0);
    await store.close();
  });

  it('rejects duplicate and empty migration ids before touching the file', () => {
    assert.throws(() => openSqlite({ file: ':memory:', migrations: [counterTable, counterTable] }), /appears twice/);
    assert.throws(() => openSqlite({ file: ':memory:', migrations: [{ id: ' ', up: () => undefined }] }), /empty id/);
  });
});

describe('SqliteStore', () => {
  it('sets WAL, synchronous=FULL, foreign keys and a busy timeout', async () => {
    const store = openSqlite({ file: freshFile(), migrations });
    assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(store.db.pragma('synchronous', { simple: true }), 2); // FULL
    assert.equal(store.db.pragma('foreign_keys', { simple: true }), 1);
    assert.equal(store.db.pragma('busy_timeout', { simple: true }), 5000);
    await store.close();
  });

  it('creates the folder 0700 and the database (and its WAL) 0600', async () => {
    const file = freshFile();
    const store = openSqlite({ file, migrations });
    await store.run(async (tx) => store.exec(tx, (db) => db.prepare("INSERT INTO counter VALUES ('c', 1)").run()));
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(`${file}-wal`).mode & 0o777, 0o600);
    await store.close();
  });

  it('tightens an existing database file that others could read', async () => {
    const file = freshFile();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '');
    fs.chmodSync(file, 0o644);
    const store = openSqlite({ file, migrations });
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    await store.close();
  });

  it('commits what run() wrote and keeps it across close and reopen (durability)', async () => {
    const file = freshFile();
    const store = openSqlite({ file, migrations });
    const result = await store.run(async (tx) => {
      sqliteTx(tx).prepare("INSERT INTO counter VALUES ('c', 7)").run();
      return 'done';
    });
    assert.equal(result, 'done');
    await store.close();
    const reopened = openSqlite({ file, migrations });
    assert.equal(read(reopened.db), 7);
    await reopened.close();
  });

  it('rolls everything back when fn throws, and re-throws the same error', async () => {
    const store = openSqlite({ file: freshFile(), migrations });
    await store.exec(undefined, (db) => db.prepare("INSERT INTO counter VALUES ('c', 1)").run());
    const boom = new Error('boom');
    await assert.rejects(
      store.run(async (tx) => {
        await store.exec(tx, (db) => db.prepare("UPDATE counter SET value = 99 WHERE name = 'c'").run());
        await store.exec(tx, (db) => db.prepare("INSERT INTO counter VALUES ('d', 1)").run());
        await sleep(1);
        throw boom;
      }),
      (err) => err === boom,
    );
    assert.equal(await store.exec(undefined, (db) => read(db)), 1);
    assert.equal(await store.exec(undefined, (db) => read(db, 'd')), 0);
    assert.equal(store.db.inTransaction, false);
    await store.close();
  });

  it('serializes concurrent run() calls: 50 parallel read-modify-write increments end at 50', async () => {
    const store = openSqlite({ file: freshFile(), migrations });
    await store.exec(undefined, (db) => db.prepare("INSERT INTO counter VALUES ('c', 0)").run());
    await Promise.all(
      Array.from({ length: 50 }, () =>
        store.run(async (tx) => {
          const value = await store.exec(tx, (db) => read(db));
          await sleep(Math.random() * 2); // yield between read and write
          await store.exec(tx, (db) => db.prepare("UPDATE counter SET value = ? WHERE name = 'c'").run(value + 1));
        }),
      ),
    );
    assert.equal(await store.exec(undefined, (db) => read(db)), 50);
    await store.close();
  });

  it('never lets exec() without a tx see another operation\'s uncommitted writes', async () => {
    const store = openSqlite({ file: freshFile(), migrations });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let committed = false;
    const writer = store.run(async (tx) => {
      await store.exec(tx, (db) => db.prepare("INSERT INTO counter VALUES ('c', 5)").run());
      await gate;
    }).then(() => (committed = true));
    await sleep(5);
    const reader = store.exec(undefined, (db) => ({ value: read(db), committed }));
    await sleep(5);
    release();
    await writer;
    const seen = await reader;
    assert.deepEqual(seen, { value: 5, committed: true }, 'the read waited for the commit');
    await store.close();
  });

  it('refuses nested run() and tx-less exec() inside run() instead of deadlocking', async () => {
    const store = openSqlite({ file: freshFile(), migrations });
    await store.run(async (tx) => {
      await assert.rejects(store.run(async () => undefined), TransactionMisuseError);
      await assert.rejects(store.exec(undefined, () => 1), /pass the tx/);
      assert.equal(await store.exec(tx, () => 1), 1);
    });
    // Another store is independent, even inside this store's run().
    const other = openSqlite({ file: ':memory:', migrations });
    await store.run(async () => {
      assert.equal(await other.run(async () => 2), 2);
    });
    await other.close();
    await store.close();
  });

  it('refuses a transaction after its run() finished, from another store, or from another backend', async () => {
    const store = openSqlite({ file: freshFile(), migrations });
    const other = openSqlite({ file: ':memory:', migrations });
    let leaked: Transaction | undefined;
    await store.run(async (tx) => {
      leaked = tx;
      await assert.rejects(other.exec(tx, () => 1), /another SQLite store/);
    });
    assert.throws(() => sqliteTx(leaked!), /already finished/);
    await assert.rejects(store.exec(leaked, () => 1), /already finished/);
    assert.throws(() => sqliteTx({ backend: 'mongodb' }), /expected a SQLite transaction, got a transaction with backend "mongodb"/);
    assert.throws(() => sqliteTx({ backend: 'sqlite' }), /no SqliteStore created/);
    await other.close();
    await store.close();
  });

  it('maps UNIQUE and PRIMARY KEY violations to DuplicateKeyError, in run() and exec()', async () => {
    const store = openSqlite({ file: freshFile(), migrations });
    await store.exec(undefined, (db) => db.prepare("INSERT INTO item (id, code) VALUES (1, 'a')").run());
    await assert.rejects(
      store.exec(undefined, (db) => db.prepare("INSERT INTO item (id, code) VALUES (2, 'a')").run()),
      (err: unknown) => err instanceof DuplicateKeyError && err.index === 'item.code',
    );
    await assert.rejects(
      store.run(async (tx) => {
        await store.exec(tx, (db) => db.prepare("INSERT INTO item (id, code) VALUES (3, 'c')").run());
        sqliteTx(tx).prepare("INSERT INTO item (id, code) VALUES (1, 'b')").run();
      }),
      (err: unknown) => err instanceof DuplicateKeyError && err.index === 'item.id',
    );
    assert.equal(await store.exec(undefined, (db) => db.prepare('SELECT count(*) FROM item').pluck().get()), 1);
    await store.close();
  });

  it('refuses an async exec() callback', async () => {
    const store = openSqlite({ file: ':memory:', migrations });
    await assert.rejects(store.exec(undefined, async () => 1), TypeError);
    await store.close();
  });

  it('close() waits for the running transaction, then refuses new work', async () => {
    const store = openSqlite({ file: freshFile(), migrations });
    const running = store.run(async (tx) => {
      await sleep(10);
      await store.exec(tx, (db) => db.prepare("INSERT INTO counter VALUES ('c', 1)").run());
    });
    await sleep(1);
    await store.close();
    await running;
    assert.equal(store.isOpen, false);
    await assert.rejects(store.run(async () => undefined), StoreClosedError);
    await assert.rejects(store.exec(undefined, () => 1), StoreClosedError);
    await store.close(); // idempotent
  });

  it('opens read-only for tools: reads work, writes fail, missing migrations refuse', async () => {
    const file = freshFile();
    const rw = openSqlite({ file, migrations: [counterTable] });
    await rw.exec(undefined, (db) => db.prepare("INSERT INTO counter VALUES ('c', 3)").run());
    await rw.close();
    const ro = openSqlite({ file, migrations: [counterTable], readonly: true });
    assert.equal(await ro.exec(undefined, (db) => read(db)), 3);
    assert.equal(await ro.run(async (tx) => read(sqliteTx(tx))), 3);
    await assert.rejects(ro.exec(undefined, (db) => db.prepare("UPDATE counter SET value = 4").run()), /readonly|query_only/i);
    await ro.close();
    assert.throws(() => openSqlite({ file, migrations, readonly: true }), /lacks migration\(s\) test\/0002-unique/);
  });
});

describe('openStore (sqlite)', () => {
  it('puts the database at <dataDir>/<serviceName>.db', async () => {
    const dataDir = path.join(root, `data-${++n}`);
    const opened = await openStore({
      backend: 'sqlite',
      dataDir,
      serviceName: 'allowlist',
      sqliteMigrations: migrations,
      mongoMigrations: [],
      mongoIndexes: [],
    });
    assert.equal(opened.backend, 'sqlite');
    assert.equal(opened.store.file, path.join(dataDir, 'allowlist.db'));
    assert.ok(fs.existsSync(path.join(dataDir, 'allowlist.db')));
    await opened.store.close();
  });

  it('refuses a service name that is not a safe file and database name, and mongodb without a URL', async () => {
    const base = { dataDir: root, sqliteMigrations: [], mongoMigrations: [], mongoIndexes: [] };
    await assert.rejects(openStore({ ...base, backend: 'sqlite', serviceName: '../etc' }), RangeError);
    await assert.rejects(openStore({ ...base, backend: 'mongodb', serviceName: 'audit' }), /MONGO_URL/);
  });
});
