import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, type Transaction, type UnitOfWork } from '@gatehouse/core';
import { auditEventV1 } from '@gatehouse/contracts';
import { createLogger } from '@gatehouse/service-kit';
import { openSqlite, sqliteTx, type SqliteMigration, type SqliteStore } from '@gatehouse/storage';
import { auditedUnitOfWork } from './audited-unit-of-work.js';
import type { DomainAuditEvent } from './domain-events.js';
import { AuditEmitter } from './emitter.js';
import { outboxSqliteMigrations, SqliteOutboxRepository } from './index.js';
import { AuditRelay } from './relay.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-uow-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const state: SqliteMigration = { id: 'test/0001-secret', up: (db) => db.exec('CREATE TABLE secret (name TEXT PRIMARY KEY, version INTEGER NOT NULL) STRICT') };

function setup(wrap?: (store: SqliteStore) => UnitOfWork) {
  const store = openSqlite({ file: path.join(root, `case-${++n}`, 'svc.db'), migrations: [...outboxSqliteMigrations, state] });
  const outbox = new SqliteOutboxRepository(store);
  let nudges = 0;
  const relay = new AuditRelay({ outbox, send: async () => [], log: createLogger({ service: 'test', level: 'silent' }) });
  relay.nudge = () => void nudges++;
  const emitter = new AuditEmitter({ outbox, relay, source: 'secrets' });
  const uow = auditedUnitOfWork<'secret_put'>('secrets', wrap ? wrap(store) : store, emitter);
  const put = (tx: Transaction, name: string) => sqliteTx(tx).prepare('INSERT INTO secret (name, version) VALUES (?, 1)').run(name);
  const secrets = () => store.exec(undefined, (db) => db.prepare('SELECT name FROM secret ORDER BY name').pluck().all() as string[]);
  const queued = async () => (await outbox.pending(100, new Date(Date.now() + 3_600_000))).map((r) => auditEventV1.AuditEvent.decode(r.payload));
  return { store, uow, put, secrets, queued, nudges: () => nudges };
}

const putEvent = (name: string, actorId = 'acc-alice'): DomainAuditEvent<'secret_put'> => ({
  action: 'secret_put',
  outcome: 'success',
  actor: { kind: 'employee', id: actorId },
  subject: { kind: 'secret', id: name },
});

describe('an audited unit of work (issue 14 item 1)', () => {
  test('the state change and its event commit together, and the relay is told after the commit', async () => {
    const s = setup();
    const out = await s.uow.run(async (tx) => {
      s.put(tx, 'DB_URL');
      tx.audit(putEvent('DB_URL'));
      assert.equal(s.nudges(), 0, 'no nudge before the commit');
      return 'done';
    });
    assert.equal(out, 'done');
    assert.deepEqual(await s.secrets(), ['DB_URL']);
    const events = await s.queued();
    assert.equal(events.length, 1);
    assert.equal(events[0]?.action, auditEventV1.Action.ACTION_SECRETS_SECRET_PUT);
    assert.equal(events[0]?.subject?.id, 'DB_URL');
    assert.equal(s.nudges(), 1);
    await s.store.close();
  });

  test('a unit that throws after staging leaves neither the state nor the event', async () => {
    const s = setup();
    await assert.rejects(
      s.uow.run(async (tx) => {
        s.put(tx, 'DB_URL');
        tx.audit(putEvent('DB_URL'));
        throw new Error('the use case changed its mind');
      }),
      /changed its mind/,
    );
    assert.deepEqual(await s.secrets(), []);
    assert.deepEqual(await s.queued(), []);
    assert.equal(s.nudges(), 0);
    await s.store.close();
  });

  test('an event audit would refuse fails the unit naming the field, and the state change is rolled back', async () => {
    const s = setup();
    await assert.rejects(
      s.uow.run(async (tx) => {
        s.put(tx, 'DB_URL');
        tx.audit(putEvent('DB_URL', 'acc\u0007bell'));
      }),
      (err: unknown) => err instanceof InvalidArgumentError && /actor\.id/.test(err.message),
    );
    assert.deepEqual(await s.secrets(), []);
    assert.deepEqual(await s.queued(), []);
    await s.store.close();
  });

  test('a unit re-run after a transient conflict (as the MongoDB adapter does) stages its events once', async () => {
    const s = setup((store) => ({
      async run(fn) {
        // First attempt: runs the function, then "conflicts" at commit; the adapter runs it again.
        await store.run(async (tx) => {
          await fn(tx);
          throw Object.assign(new Error('WriteConflict'), { transient: true });
        }).catch(() => undefined);
        return store.run(fn);
      },
    }));
    await s.uow.run(async (tx) => {
      s.put(tx, 'DB_URL');
      tx.audit(putEvent('DB_URL'));
    });
    assert.deepEqual(await s.secrets(), ['DB_URL']);
    assert.equal((await s.queued()).length, 1);
    await s.store.close();
  });

  test('concurrent units each keep their own events (group commit shares the COMMIT, not the staging)', async () => {
    const s = setup();
    const names = Array.from({ length: 50 }, (_, i) => `S${i}`);
    await Promise.all(
      names.map((name) =>
        s.uow.run(async (tx) => {
          s.put(tx, name);
          await Promise.resolve();
          tx.audit(putEvent(name));
        }),
      ),
    );
    const events = await s.queued();
    assert.deepEqual(events.map((e) => e.subject?.id).sort(), [...names].sort());
    assert.equal((await s.secrets()).length, 50);
    await s.store.close();
  });
});
