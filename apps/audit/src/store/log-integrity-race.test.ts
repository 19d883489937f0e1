import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { systemClock } from '@gatehouse/core';
import { openSqlite, type SqliteStore } from '@gatehouse/storage';
import { tempDir, type TempDir } from '@gatehouse/testing';
import { AuditLog } from '../domain/audit-log.js';
import { LogIntegrityCheck } from '../domain/log-integrity.js';
import type { LogRepository } from '../domain/ports.js';
import { eventFromProto, protoLeafCodec } from '../rpc/convert.js';
import { event } from '../test-support/harness.js';
import { loadOrCreateHmacKey, loadOrCreateSigningKey } from './key-files.js';
import { SqliteLogRepository, auditSqliteMigrations } from './sqlite-log-repository.js';

/**
 * The periodic integrity check runs while audit keeps appending. An append (with the checkpoint
 * it signs) that commits between two of the check's reads is legitimate, and must never look
 * like damage: a false failure refuses every append of the whole deployment. The repository is
 * real SQLite; the wrapper only chooses the moment the append commits.
 */
describe('the integrity check under concurrent appends', () => {
  let dir: TempDir;
  let store: SqliteStore;
  let repo: LogRepository;
  let log: AuditLog;
  let signer: ReturnType<typeof loadOrCreateSigningKey>;

  before(async () => {
    dir = await tempDir('audit-integrity-race');
    store = openSqlite({ file: path.join(dir.path, 'audit.db'), migrations: auditSqliteMigrations });
    repo = new SqliteLogRepository(store, protoLeafCodec);
    signer = loadOrCreateSigningKey(path.join(dir.path, 'signing.pem'));
    log = new AuditLog({
      repo,
      codec: protoLeafCodec,
      signer,
      clock: systemClock,
      hmacKey: loadOrCreateHmacKey(path.join(dir.path, 'hmac.key')),
      origin: 'gatehouse-audit-test',
      checkpointEvery: 5,
    });
    await log.init();
    await appendBatch(12);
  });
  after(async () => {
    store.close();
    await dir.cleanup();
  });

  const appendBatch = (n: number) => log.append(Array.from({ length: n }, () => eventFromProto(event())), { kind: 'service', name: 'identity' });

  /** A check whose reads of `method` are each followed by a committed append of 5 (one more checkpoint). */
  const racing = (method: 'treeSize' | 'checkpointsBetween' | 'rawRows', times: number) => {
    let left = times;
    const wrapped = new Proxy(repo, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== method || typeof v !== 'function') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        return async (...args: unknown[]) => {
          const out = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (left-- > 0) {
            await appendBatch(5);
            await log.checkpointIfGrown();
          }
          return out;
        };
      },
    });
    return new LogIntegrityCheck({ repo: wrapped, codec: protoLeafCodec, publicKey: signer.publicKey, origin: 'gatehouse-audit-test', chunk: 4 });
  };

  for (const method of ['treeSize', 'checkpointsBetween', 'rawRows'] as const) {
    test(`appends and checkpoints committing right after each ${method} read are not reported as damage`, async () => {
      const before = await repo.treeSize();
      const failure = await racing(method, 3).run();
      assert.equal(failure, undefined, `false integrity failure: ${JSON.stringify(failure)}`);
      assert.ok((await repo.treeSize()) > before, 'the appends did run during the check');
    });
  }

  test('a commit whose row shows before its tree size (a torn read, measured on jongodb) is not reported as inserted', async () => {
    let torn = false;
    let stale = 0;
    let staleReads = 0;
    const lagging = new Proxy(repo, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop === 'treeSize') {
          return async () => {
            const real = await target.treeSize();
            if (staleReads > 0) {
              staleReads -= 1;
              return stale;
            }
            return real;
          };
        }
        if (prop === 'rawRows') {
          return async (from: number, count: number) => {
            // At the tail read: another replica's append commits, its row visible at once and
            // its tree size only two reads later.
            if (!torn && from === (await target.treeSize())) {
              torn = true;
              stale = from;
              await appendBatch(1);
              staleReads = 2;
            }
            return target.rawRows(from, count);
          };
        }
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const failure = await new LogIntegrityCheck({ repo: lagging, codec: protoLeafCodec, publicKey: signer.publicKey, origin: 'gatehouse-audit-test', chunk: 4 }).run();
    assert.ok(torn, 'the torn commit happened during the check');
    assert.equal(failure, undefined, `false integrity failure: ${JSON.stringify(failure)}`);
  });

  test('a row really inserted beyond the tree size is still found while appends go on', async () => {
    const size = await repo.treeSize();
    const cols = 'content_hash, occurred_at, appended_at, service, action, outcome, actor_id, subject_kind, subject_id, customer_domain, source_ip, environment, request_id, submitted_by, leaf_input, leaf_hash';
    store.db.prepare(`INSERT INTO audit_log (seq, event_id, ${cols}) SELECT seq + 1000, event_id || '-forged', ${cols} FROM audit_log WHERE seq = ?`).run(size - 1);
    const failure = await racing('treeSize', 2).run();
    assert.equal(failure?.damage, 'inserted');
    assert.equal(failure?.sequence, size - 1 + 1000);
  });
});
