import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import * as grpc from '@grpc/grpc-js';
import { Binary, MongoClient } from 'mongodb';
import { auditEventV1, auditV1 } from '@gatehouse/contracts';
import { exportLine } from '@gatehouse/audit-verify';
import { loadTlsMaterial } from '@gatehouse/pki';
import { call, checkHealth, stream } from '@gatehouse/service-kit';
import { findMongo } from '@gatehouse/testing';
import { append, event, startAudit, type AuditHarness } from './test-support/harness.js';

/**
 * Issue 13 item 7: audit notices edits to its own database. The real service over mTLS; the
 * tampering goes straight to its SQLite file or MongoDB collection, as an attacker with database
 * access would. On damage: one CRITICAL alert naming the first bad sequence, health NOT_SERVING,
 * Append refused UNAVAILABLE naming it, and reads and exports still served.
 */

/** Direct access to one stored row of the log, keyed by sequence. */
interface Tamper {
  /** Sets fields of the row (SQL column names; the Mongo adapter maps them). */
  set(seq: number, fields: Record<string, unknown>): Promise<void>;
  /** Flips the last byte of the row's leaf bytes (leaving leaf_hash as it was). */
  flipLeafByte(seq: number): Promise<void>;
  remove(seq: number): Promise<void>;
  /** The whole row, to put back with `restore`. */
  save(seq: number): Promise<unknown>;
  restore(seq: number, row: unknown): Promise<void>;
}

function sqliteTamper(file: string): Tamper {
  const withDb = <T>(fn: (db: Database.Database) => T): T => {
    const db = new Database(file);
    db.pragma('busy_timeout = 5000');
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };
  return {
    set: async (seq, fields) =>
      withDb((db) => {
        const cols = Object.keys(fields);
        db.prepare(`UPDATE audit_log SET ${cols.map((c) => `${c} = @${c}`).join(', ')} WHERE seq = @seq`).run({ ...fields, seq });
      }),
    flipLeafByte: async (seq) =>
      withDb((db) => {
        const { leaf_input: leaf } = db.prepare('SELECT leaf_input FROM audit_log WHERE seq = ?').get(seq) as { leaf_input: Buffer };
        leaf.writeUInt8(leaf.readUInt8(leaf.length - 1) ^ 0x01, leaf.length - 1);
        db.prepare('UPDATE audit_log SET leaf_input = ? WHERE seq = ?').run(leaf, seq);
      }),
    remove: async (seq) => withDb((db) => void db.prepare('DELETE FROM audit_log WHERE seq = ?').run(seq)),
    save: async (seq) => withDb((db) => db.prepare('SELECT * FROM audit_log WHERE seq = ?').get(seq)),
    restore: async (seq, row) =>
      withDb((db) => {
        const r = row as Record<string, unknown>;
        db.prepare('DELETE FROM audit_log WHERE seq = ?').run(seq);
        const cols = Object.keys(r);
        db.prepare(`INSERT INTO audit_log (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`).run(r);
      }),
  };
}

const MONGO_FIELD: Record<string, string> = { actor_id: 'actorId', leaf_input: 'leafInput', occurred_at: 'occurredAt' };

function mongoTamper(url: string, dbName: string): Tamper {
  const withCol = async <T>(fn: (c: ReturnType<ReturnType<MongoClient['db']>['collection']>) => Promise<T>): Promise<T> => {
    const client = await MongoClient.connect(url);
    try {
      return await fn(client.db(dbName).collection('audit_log'));
    } finally {
      await client.close();
    }
  };
  return {
    set: (seq, fields) =>
      withCol(async (c) => {
        await c.updateOne({ _id: seq as never }, { $set: Object.fromEntries(Object.entries(fields).map(([k, v]) => [MONGO_FIELD[k] ?? k, v])) });
      }),
    flipLeafByte: (seq) =>
      withCol(async (c) => {
        const d = (await c.findOne({ _id: seq as never })) as unknown as { leafInput: Binary };
        const leaf = Buffer.from(d.leafInput.buffer);
        leaf.writeUInt8(leaf.readUInt8(leaf.length - 1) ^ 0x01, leaf.length - 1);
        await c.updateOne({ _id: seq as never }, { $set: { leafInput: new Binary(leaf) } });
      }),
    remove: (seq) => withCol(async (c) => void (await c.deleteOne({ _id: seq as never }))),
    save: (seq) => withCol((c) => c.findOne({ _id: seq as never })),
    restore: (seq, row) =>
      withCol(async (c) => {
        await c.deleteOne({ _id: seq as never });
        await c.insertOne(row as never);
      }),
  };
}

for (const backend of ['sqlite', 'mongodb'] as const) describe(`audit checks its own database (${backend})`, () => {
  let h: AuditHarness;
  let tamper: Tamper;
  let skipped: string | undefined;
  before(async () => {
    const env: Record<string, string> = { GATEHOUSE_AUDIT_CHECKPOINT_EVERY: '50', GATEHOUSE_AUDIT_INTEGRITY_CHECK_MS: '1000' };
    if (backend === 'mongodb') {
      const mongo = await findMongo();
      if ('skipped' in mongo) {
        skipped = mongo.skipped;
        return;
      }
      const dbName = `gatehouse_audit_integrity_${process.pid}`;
      Object.assign(env, { GATEHOUSE_STORE: 'mongodb', MONGO_URL: mongo.url, GATEHOUSE_MONGO_DB: dbName });
      h = await startAudit(env);
      tamper = mongoTamper(mongo.url, dbName);
    } else {
      h = await startAudit(env);
      tamper = sqliteTamper(path.join(h.dir, 'data', 'audit.db'));
    }
    const c = await h.client('identity');
    for (let i = 0; i < 4; i++) {
      await append(c, Array.from({ length: 30 }, (_, j) => event({ actor: { kind: auditEventV1.ActorKind.ACTOR_KIND_EMPLOYEE, id: `acc-${i * 30 + j}`, displayName: '' } })));
    }
    await call(c, c.getCheckpoint, { fresh: true });
  });
  after(async () => {
    await h?.stop();
  });
  const test = (name: string, fn: () => Promise<void>) =>
    it(name, async (t) => {
      if (skipped) {
        t.skip(`no MongoDB: ${skipped}`);
        return;
      }
      await fn();
    });

  const officer = () => h.sessions.token({ roles: ['security_officer'] });
  const health = async () => (await checkHealth(h.address, { mode: 'mtls', material: { ...(await loadTlsMaterial(path.join(h.dir, 'pki'), 'cli')), expectedServerName: 'audit' } })).status;
  const integrityAlerts = async () => {
    const cli = await h.client('cli');
    const res = await call(cli, cli.listAlerts, auditV1.ListAlertsRequest.fromPartial({}), { bearer: officer() });
    return res.alerts.filter((a) => a.ruleId === 'audit.log_integrity');
  };
  const waitFor = async (what: string, ok: () => Promise<boolean>, ms = 5_000) => {
    const t0 = Date.now();
    while (!(await ok())) {
      if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  /** Append is refused UNAVAILABLE with a message naming the sequence (and `detail`). */
  const assertAppendRefused = async (seq: number, detail: RegExp) => {
    const c = await h.client('identity');
    await assert.rejects(append(c, [event()]), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAVAILABLE, err.details);
      assert.match(err.details, new RegExp(`integrity check failed at sequence ${seq}\\b`));
      assert.match(err.details, detail);
      return true;
    });
  };
  /** One CRITICAL alert naming the sequence. */
  const assertOneAlert = async (seq: number) => {
    const named = async () => (await integrityAlerts()).filter((a) => a.firstSequence === seq);
    await waitFor('the integrity alert', async () => (await named()).length > 0);
    const alerts = await named();
    assert.equal(alerts.length, 1, alerts.map((a) => a.summary).join('\n'));
    assert.equal(alerts[0]!.severity, auditV1.AlertSeverity.ALERT_SEVERITY_CRITICAL);
    assert.match(alerts[0]!.summary, new RegExp(`sequence ${seq}\\b`));
    assert.equal(alerts[0]!.firstSequence, seq);
  };
  const query = async (from: number, to: number) => {
    const cli = await h.client('cli');
    return call(cli, cli.query, auditV1.QueryRequest.fromPartial({ fromSequence: from, toSequence: to, pageSize: 1000 }), { bearer: officer() });
  };
  const exportAll = async () => {
    const cli = await h.client('cli');
    const lines: string[] = [];
    const s = stream(cli, cli.export, auditV1.ExportRequest.fromPartial({ fromSequence: 0 }), { bearer: officer() });
    for await (const m of s as AsyncIterable<auditV1.ExportResponse>) lines.push(exportLine(m));
    return lines;
  };
  /** Puts the row back and restarts: audit serves and appends again. */
  const repair = async (seq: number, row: unknown) => {
    await h.down();
    await tamper.restore(seq, row);
    await h.up();
    assert.equal(await health(), 'SERVING', 'a restored log serves again after a restart');
    const c = await h.client('identity');
    assert.equal((await append(c, [event()])).results.length, 1);
  };

  test('the untouched log starts SERVING and passes its checks', async () => {
    assert.equal(await health(), 'SERVING');
    assert.equal((await integrityAlerts()).length, 0);
  });

  test('an edited actor_id is found by the periodic check: one CRITICAL alert, NOT_SERVING, Append refused naming the sequence; reads and exports still work', async () => {
    const row = await tamper.save(30);
    await tamper.set(30, { actor_id: 'acc-someone-else' });
    await waitFor('health NOT_SERVING', async () => (await health()) === 'NOT_SERVING');
    await assertAppendRefused(30, /actor_id column is "acc-someone-else" but its signed leaf says "acc-30"/);
    await assertOneAlert(30);
    await new Promise((r) => setTimeout(r, 2_500)); // two more periodic checks
    assert.equal((await integrityAlerts()).filter((a) => a.firstSequence === 30).length, 1, 'one alert, not one per check');
    // An acknowledgement and its log entry are one unit (issue 14): with the log refusing
    // writes, the ack is refused too, and the alert stays OPEN (not acknowledged without a trace).
    const [alert] = (await integrityAlerts()).filter((a) => a.firstSequence === 30);
    const cli = await h.client('cli');
    await assert.rejects(
      call(cli, cli.acknowledgeAlert, { alertId: alert!.alertId, note: 'looked at it' }, { bearer: officer() }),
      (err: grpc.ServiceError) => err.code === grpc.status.UNAVAILABLE && /integrity check failed at sequence 30/.test(err.details),
    );
    const still = (await integrityAlerts()).find((a) => a.alertId === alert!.alertId);
    assert.equal(still?.state, auditV1.AlertState.ALERT_STATE_OPEN, 'the refused acknowledgement changed nothing');
    const page = await query(0, 50);
    assert.equal(page.entries.length, 50, 'reads are still served');
    assert.equal(page.entries[30]!.event?.actor?.id, 'acc-30', 'entries are read from their signed leaf');
    const lines = await exportAll();
    assert.ok(lines.length > 100, 'exports are still served');
    assert.match(lines[lines.length - 1]!, /"trailer"/);
    await repair(30, row);
  });

  test('a flipped leaf byte is found at restart: audit does not come back SERVING', async () => {
    const row = await tamper.save(42);
    await h.down();
    await tamper.flipLeafByte(42);
    await h.up();
    assert.equal(await health(), 'NOT_SERVING');
    await assertAppendRefused(42, /entry 42/);
    await assertOneAlert(42);
    await repair(42, row);
  });

  test('a deleted row is found at restart, naming the missing sequence', async () => {
    const row = await tamper.save(77);
    await h.down();
    await tamper.remove(77);
    await h.up();
    assert.equal(await health(), 'NOT_SERVING');
    await assertAppendRefused(77, /entry 77 is missing/);
    const alerts = await integrityAlerts();
    assert.ok(alerts.some((a) => a.firstSequence === 77 && /sequence 77\b/.test(a.summary)), alerts.map((a) => a.summary).join('\n'));
    await repair(77, row);
  });

  test('a leaf of the wrong type starts without crashing, names its sequence, and reads name it too', async () => {
    const row = await tamper.save(117);
    await h.down();
    await tamper.set(117, { leaf_input: 'not bytes' });
    await h.up(); // before: a DataView TypeError from the alert replay, naming nothing
    assert.equal(await health(), 'NOT_SERVING');
    await assertAppendRefused(117, /entry 117 cannot be decoded: its leaf_input is string, not bytes/);
    const alerts = await integrityAlerts();
    assert.ok(alerts.some((a) => a.firstSequence === 117), alerts.map((a) => a.summary).join('\n'));
    assert.equal((await query(0, 100)).entries.length, 100, 'reads that do not touch the row are served');
    await assert.rejects(query(100, 120), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.FAILED_PRECONDITION, err.details);
      assert.match(err.details, /entry 117 cannot be decoded/);
      return true;
    });
    await repair(117, row);
  });
});
