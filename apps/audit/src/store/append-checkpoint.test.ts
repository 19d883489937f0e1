import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { systemClock } from '@gatehouse/core';
import { verifyCheckpoint } from '@gatehouse/merkle';
import { openMongo, openSqlite } from '@gatehouse/storage';
import { findMongo, tempDir, type TempDir } from '@gatehouse/testing';
import { AuditLog } from '../domain/audit-log.js';
import type { CheckpointSigner, LogRepository } from '../domain/ports.js';
import { eventFromProto, protoLeafCodec } from '../rpc/convert.js';
import { event } from '../test-support/harness.js';
import { loadOrCreateHmacKey, loadOrCreateSigningKey } from './key-files.js';
import { MongoLogRepository } from './mongo-log-repository.js';
import { auditSchema } from './schema.js';
import { SqliteLogRepository } from './sqlite-log-repository.js';

/**
 * The checkpoint an append owes (every `checkpointEvery` entries) commits in the append's own
 * transaction (issue 14 item 7: one commit per Append batch). So the entries and their
 * checkpoint are durable together: an append whose checkpoint cannot be signed stores nothing
 * and its caller hears the error, instead of hearing an error for entries that were committed.
 * Real stores on both backends; only the signer is wrapped, to fail once.
 */
for (const backend of ['sqlite', 'mongodb'] as const) describe(`an append's checkpoint commits with its entries (${backend})`, () => {
  let dir: TempDir;
  let repo: LogRepository;
  let close: () => Promise<void>;
  let log: AuditLog;
  let signer: ReturnType<typeof loadOrCreateSigningKey>;
  let failSigning = false;
  let skipped: string | undefined;
  const origin = 'gatehouse-audit-test';

  before(async () => {
    dir = await tempDir('audit-append-checkpoint');
    if (backend === 'mongodb') {
      const mongo = await findMongo();
      if ('skipped' in mongo) {
        skipped = mongo.skipped;
        return;
      }
      const store = await openMongo({ url: mongo.url, dbName: `gatehouse_audit_cp_${process.pid}`, migrations: auditSchema.mongoMigrations, indexes: auditSchema.mongoIndexes });
      repo = new MongoLogRepository(store, protoLeafCodec);
      close = () => store.close();
    } else {
      const store = openSqlite({ file: path.join(dir.path, 'audit.db'), migrations: auditSchema.sqliteMigrations });
      repo = new SqliteLogRepository(store, protoLeafCodec);
      close = () => store.close();
    }
    signer = loadOrCreateSigningKey(path.join(dir.path, 'signing.pem'));
    const failing: CheckpointSigner = {
      keyId: signer.keyId,
      publicKey: signer.publicKey,
      sign: (text) => {
        if (failSigning) throw new Error('signing key unavailable (test)');
        return signer.sign(text);
      },
    };
    log = new AuditLog({
      repo,
      codec: protoLeafCodec,
      signer: failing,
      clock: systemClock,
      hmacKey: loadOrCreateHmacKey(path.join(dir.path, 'hmac.key')),
      origin,
      checkpointEvery: 5,
    });
    await log.init();
  });
  after(async () => {
    await close?.();
    await dir.cleanup();
  });
  const test = (name: string, fn: () => Promise<void>) =>
    it(name, async (t) => {
      if (skipped) {
        t.skip(`no MongoDB: ${skipped}`);
        return;
      }
      await fn();
    });
  const appendBatch = (n: number) => log.append(Array.from({ length: n }, () => eventFromProto(event())), { kind: 'service', name: 'identity' });

  test('an append that reaches the cadence stores its checkpoint, signed over the root of the entries it wrote', async () => {
    await appendBatch(3);
    assert.equal((await repo.latestCheckpoint())?.treeSize, undefined, 'no checkpoint is due below 5 entries');
    await appendBatch(4);
    const cp = await repo.latestCheckpoint();
    assert.equal(cp?.treeSize, 7, 'the append crossing 5 entries stored the checkpoint of the size it reached');
    assert.deepEqual(Buffer.from(cp.rootHash), Buffer.from(await log.rootAt(7)), 'the checkpoint root is the root of the stored tree of 7');
    assert.ok(verifyCheckpoint(cp, cp.signature, signer.publicKey), 'the checkpoint signature verifies');
    assert.equal(await repo.treeSize(), 7);
  });

  test('an append whose checkpoint cannot be signed commits nothing, and its retry commits both', async () => {
    const size = await repo.treeSize();
    const events = Array.from({ length: 4 }, () => eventFromProto(event()));
    failSigning = true;
    await assert.rejects(log.append(events, { kind: 'service', name: 'identity' }), /signing key unavailable/);
    failSigning = false;
    assert.equal(await repo.treeSize(), size, 'no entry of the failed append is in the log');
    assert.equal((await repo.latestCheckpoint())?.treeSize, 7, 'no checkpoint of the failed append is stored');
    assert.equal((await repo.query({ fromSequence: size }, { limit: 10, descending: false })).length, 0, 'no row beyond the tree size');
    const retried = await log.append(events, { kind: 'service', name: 'identity' });
    assert.deepEqual(retried.map((o) => o.duplicate), [false, false, false, false], 'the retry appends them as new: the failed attempt left nothing');
    assert.equal(await repo.treeSize(), size + 4);
    assert.equal((await repo.latestCheckpoint())?.treeSize, 11, 'the retry crossed 10 and stored the checkpoint of 11');
  });
});
