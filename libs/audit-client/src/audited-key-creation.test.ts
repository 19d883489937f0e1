import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AlreadyExistsError } from '@gatehouse/core';
import { auditEventV1 } from '@gatehouse/contracts';
import { createLogger } from '@gatehouse/service-kit';
import { SqliteSigningKeyRepository, signingKeySqliteMigrations, type SigningKeyRecord } from '@gatehouse/signing-keys';
import { openSqlite } from '@gatehouse/storage';
import { auditedKeyCreation } from './audited-key-creation.js';
import { auditedUnitOfWork } from './audited-unit-of-work.js';
import { AuditEmitter } from './emitter.js';
import { outboxSqliteMigrations, SqliteOutboxRepository } from './index.js';
import { AuditRelay } from './relay.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-keycreate-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;

function setup(opts: { refuseOutbox?: boolean } = {}) {
  const store = openSqlite({ file: path.join(root, `case-${++n}`, 'svc.db'), migrations: [...outboxSqliteMigrations, ...signingKeySqliteMigrations] });
  const outbox = new SqliteOutboxRepository(store);
  if (opts.refuseOutbox) {
    // The outbox write of the unit fails (a full disk, a constraint): the key must not stay behind.
    outbox.add = async () => {
      throw new Error('outbox write failed');
    };
  }
  const relay = new AuditRelay({ outbox, send: async () => [], log: createLogger({ service: 'test', level: 'silent' }) });
  relay.nudge = () => undefined;
  const emitter = new AuditEmitter({ outbox, relay, source: 'identity' });
  const repo = new SqliteSigningKeyRepository(store);
  const keys = auditedKeyCreation('identity', repo, auditedUnitOfWork<'signing_key_rotate'>('identity', store, emitter));
  const queued = async () => (await outbox.pending(100, new Date(Date.now() + 3_600_000))).map((r) => auditEventV1.AuditEvent.decode(r.payload));
  return { store, keys, repo, queued };
}

const record = (keyId: string): SigningKeyRecord => ({
  keyId,
  publicKey: new Uint8Array(randomBytes(32)),
  encryptedPrivateKey: 'v1.sealed.not-a-real-key',
  createdAt: new Date(),
  activatesAt: new Date(Date.UTC(2026, 11, 7, 12)),
});

describe('a token-signing key and its rotation event commit together (issue 14)', () => {
  test('creating a key stores it and queues one signing_key_rotate event naming it, by the system', async () => {
    const s = setup();
    await s.keys.create(record('sk-first'));
    assert.deepEqual((await s.repo.list()).map((k) => k.keyId), ['sk-first']);
    const events = await s.queued();
    assert.equal(events.length, 1);
    assert.equal(events[0]?.action, auditEventV1.Action.ACTION_IDENTITY_SIGNING_KEY_ROTATE);
    assert.equal(events[0]?.outcome, auditEventV1.Outcome.OUTCOME_SUCCESS);
    assert.equal(events[0]?.actor?.kind, auditEventV1.ActorKind.ACTOR_KIND_SYSTEM);
    assert.equal(events[0]?.subject?.id, 'sk-first');
    assert.equal(events[0]?.details?.['activates_at'], '2026-12-07T12:00:00.000Z');
    assert.ok(!JSON.stringify(events[0]).includes('not-a-real-key'), 'the sealed private key is not in the event');
    await s.store.close();
  });

  test('a key another replica created first fails with AlreadyExistsError and records no second event', async () => {
    const s = setup();
    await s.keys.create(record('sk-same'));
    await assert.rejects(s.keys.create(record('sk-same')), AlreadyExistsError);
    assert.equal((await s.queued()).length, 1);
    assert.equal((await s.repo.list()).length, 1);
    await s.store.close();
  });

  test('when the event cannot be written, the key is not stored either', async () => {
    const s = setup({ refuseOutbox: true });
    await assert.rejects(s.keys.create(record('sk-lost')), /outbox write failed/);
    assert.deepEqual(await s.repo.list(), []);
    await s.store.close();
  });
});
