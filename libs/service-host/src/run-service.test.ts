import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigError, checkHealth } from '@gatehouse/service-kit';
import { ensurePki, loadTlsMaterial } from '@gatehouse/pki';
import { findMongo } from '@gatehouse/testing';
import { auditEventV1 } from '@gatehouse/contracts';
import { auditShippingSpec as spec } from './test-support/audit-shipping-spec.js';
import { runService } from './run-service.js';

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'host-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('runService', () => {
  test('a bad variable stops start-up with a ConfigError naming it', async () => {
    await assert.rejects(runService(spec('svc'), { env: { GATEHOUSE_PORT: 'eighty' } }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /GATEHOUSE_PORT: expected an integer between 0 and 65535, got "eighty"/);
      return true;
    });
    await assert.rejects(runService(spec('svc'), { env: { GATEHOUSE_STORE: 'mongodb' } }), /MONGO_URL: required when GATEHOUSE_STORE=mongodb/);
  });

  test('SQLite + mTLS: serves, writes the ready file, stages audit events durably, drains on shutdown', async () => {
    const dir = tmp();
    await ensurePki(path.join(dir, 'pki'), { services: ['identity'], clients: [{ name: 'cli', kind: 'operator' }] });
    let emitter: { record: (tx: never, e: object) => Promise<string[]> } | undefined;
    const ready = path.join(dir, 'ready.json');
    const hosted = await runService(
      spec('identity', (a) => {
        emitter = a as typeof emitter;
      }),
      {
        env: {
          GATEHOUSE_PORT: '0',
          GATEHOUSE_METRICS_PORT: '0',
          GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
          GATEHOUSE_TLS_DIR: path.join(dir, 'pki'),
          GATEHOUSE_READY_FILE: ready,
          GATEHOUSE_AUDIT_ADDR: '127.0.0.1:9', // nothing listens: events must wait in the outbox
          GATEHOUSE_LOG_LEVEL: 'silent',
        },
      },
    );
    try {
      const info = JSON.parse(fs.readFileSync(ready, 'utf8')) as { port: number; pid: number };
      assert.equal(info.port, hosted.server.port);
      assert.equal(info.pid, process.pid);
      const material = { ...(await loadTlsMaterial(path.join(dir, 'pki'), 'cli')), expectedServerName: 'identity' };
      const health = await checkHealth(`127.0.0.1:${hosted.server.port}`, { mode: 'mtls', material });
      assert.equal(health.status, 'SERVING');
      assert.ok(emitter, 'wire received the audit emitter');
      assert.equal(hosted.store.backend, 'sqlite');
      if (hosted.store.backend !== 'sqlite') return;
      const store = hosted.store.store;
      await store.run(async (tx) =>
        emitter!.record(tx as never, {
          service: auditEventV1.Service.SERVICE_IDENTITY,
          action: auditEventV1.Action.ACTION_IDENTITY_ACCOUNT_REQUEST,
          outcome: auditEventV1.Outcome.OUTCOME_SUCCESS,
          actor: { kind: auditEventV1.ActorKind.ACTOR_KIND_ANONYMOUS, id: '', displayName: '' },
        }),
      );
      const pending = await store.exec(undefined, (db) => db.prepare('SELECT COUNT(*) AS n FROM audit_outbox WHERE shipped_at IS NULL').get() as { n: number });
      assert.equal(pending.n, 1, 'the event waits in the outbox while audit is unreachable');
      assert.equal((fs.statSync(path.join(dir, 'data', 'identity.db')).mode & 0o777), 0o600);
    } finally {
      await hosted.shutdown('test');
    }
    assert.equal(hosted.store.backend === 'sqlite' && hosted.store.store.isOpen, false, 'the store is closed after shutdown');
  });

  test('MongoDB: the same service starts on GATEHOUSE_STORE=mongodb with its own database', async (t) => {
    const mongo = await findMongo();
    if ('skipped' in mongo) {
      t.skip(mongo.skipped);
      return;
    }
    // jongodb cannot drop databases: a fresh service (and so database) name per run.
    const name = `svc-${randomBytes(4).toString('hex')}`;
    const hosted = await runService(spec(name), {
      env: {
        GATEHOUSE_PORT: '0',
        GATEHOUSE_STORE: 'mongodb',
        MONGO_URL: mongo.url,
        GATEHOUSE_INSECURE_PLAINTEXT: 'true',
        GATEHOUSE_AUDIT_ADDR: '127.0.0.1:9',
        GATEHOUSE_LOG_LEVEL: 'silent',
      },
    });
    try {
      assert.equal(hosted.store.backend, 'mongodb');
      const health = await checkHealth(`127.0.0.1:${hosted.server.port}`, { mode: 'insecure-loopback' });
      assert.equal(health.status, 'SERVING');
      if (hosted.store.backend === 'mongodb') {
        assert.equal(hosted.store.store.db.databaseName, `gatehouse_${name}`);
        const indexes = await hosted.store.store.db.collection('audit_outbox').indexes();
        assert.ok(indexes.some((i) => i.unique), 'outbox indexes created at start');
      }
    } finally {
      await hosted.shutdown('test');
    }
  });
});
