import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { auditV1 } from '@gatehouse/contracts';
import { exportLine, verifyExport, type TrustedKey } from '@gatehouse/audit-verify';
import { call, stream } from '@gatehouse/service-kit';
import { findMongo } from '@gatehouse/testing';
import { Binary, MongoClient } from 'mongodb';
import { append, event, startAudit, type AuditHarness } from './test-support/harness.js';

/**
 * Tamper evidence (issue 3 acceptance): every kind of damage to an export file, and to the
 * database rows behind it, is caught by the offline verifier, which names the first bad sequence.
 */
describe('audit verify catches tampering', () => {
  let h: AuditHarness;
  let key: TrustedKey;
  let exportAll: (to?: number) => Promise<string[]>;

  before(async () => {
    h = await startAudit({ GATEHOUSE_AUDIT_CHECKPOINT_EVERY: '50' });
    const c = await h.client('identity');
    for (let i = 0; i < 4; i++) await append(c, Array.from({ length: 30 }, () => event()));
    const keys = await call(c, c.getSigningKeys, {});
    key = { keyId: keys.keys[0]!.keyId, publicKey: keys.keys[0]!.publicKey };
    const cli = await h.client('cli');
    exportAll = async (to?: number) => {
      const lines: string[] = [];
      const s = stream(cli, cli.export, auditV1.ExportRequest.fromPartial({ fromSequence: 0, toTreeSize: to }), {
        bearer: h.sessions.token({ roles: ['security_officer'] }),
      });
      for await (const m of s as AsyncIterable<auditV1.ExportResponse>) lines.push(exportLine(m));
      return lines;
    };
  });
  after(async () => {
    await h.stop();
  });

  const verify = (lines: string[]) => verifyExport(lines, { trustedKeys: [key] });
  /** Index of the line holding entry `seq`. */
  const lineOf = (lines: string[], seq: number) => lines.findIndex((l) => l.includes('"entry"') && Number(JSON.parse(l).entry.sequence) === seq);

  test('an untouched export verifies, with its intermediate checkpoints', async () => {
    const lines = await exportAll(100);
    const report = await verify(lines);
    assert.equal(report.ok, true, report.detail);
    assert.equal(report.entries, 100);
    assert.ok(report.checkpointsVerified >= 2);
  });

  test('edit, delete, reorder, insert and truncate in an export file are each named at the first bad sequence', async () => {
    const lines = await exportAll(100);
    const at73 = lineOf(lines, 73);
    assert.ok(at73 > 0);
    const cases: Array<[string, string[], string, number]> = [];
    const edited = [...lines];
    const rec = JSON.parse(edited[at73]!);
    rec.entry.event.actor.id = 'acc-someone-else';
    edited[at73] = JSON.stringify(rec);
    cases.push(['edited', edited, 'edited', 73]);
    cases.push(['deleted', lines.filter((_, i) => i !== at73), 'deleted', 73]);
    const swapped = [...lines];
    [swapped[at73], swapped[at73 + 1]] = [swapped[at73 + 1]!, swapped[at73]!];
    cases.push(['reordered', swapped, 'reordered', 73]);
    cases.push(['inserted', [...lines.slice(0, at73 + 1), lines[at73]!, ...lines.slice(at73 + 1)], 'inserted', 74]);
    cases.push(['truncated', lines.slice(0, lineOf(lines, 90)), 'truncated', 90]);
    for (const [name, tampered, damage, seq] of cases) {
      const r = await verify(tampered);
      assert.equal(r.ok, false, name);
      assert.equal(r.damage, damage, `${name}: ${r.detail}`);
      assert.equal(r.firstBadSequence, seq, `${name}: ${r.detail}`);
    }
  });

  test('edits, deletions, reordering, insertion and truncation of database rows are caught in the next export', async () => {
    await tamperRows(sqliteRows(path.join(h.dir, 'data', 'audit.db')), verify, exportAll);
  });
});

/** The first 100 rows of the log as a list, and a way to write a changed list back (re-keyed by position). */
interface RowStore<Row> {
  read(): Promise<Row[]>;
  write(rows: Row[]): Promise<void>;
  /** A copy of `row` with its leaf bytes' last byte flipped (an edit that leaves the row well-formed). */
  edited(row: Row): Row;
  /** A copy of `row` under another event id (a forged insertion). */
  forged(row: Row): Row;
}

/**
 * Applies each kind of damage to the stored rows, checks the next export fails at the right
 * sequence with the right damage, and restores the rows.
 */
async function tamperRows<Row>(
  store: RowStore<Row>,
  verify: (lines: string[]) => ReturnType<typeof verifyExport>,
  exportAll: (to?: number) => Promise<string[]>,
): Promise<void> {
  const original = await store.read();
  const cases: Array<[string, (rows: Row[]) => Row[], string, number]> = [
    ['row edited', (r) => r.map((x, i) => (i === 30 ? store.edited(x) : x)), 'edited', 30],
    ['row deleted', (r) => r.filter((_, i) => i !== 30), 'deleted', 30],
    ['rows reordered', (r) => r.map((x, i) => (i === 30 ? r[31]! : i === 31 ? r[30]! : x)), 'reordered', 30],
    ['row inserted', (r) => [...r.slice(0, 30), store.forged(r[29]!), ...r.slice(30, 99)], 'inserted', 30],
    ['tail truncated', (r) => r.slice(0, 90), 'truncated', 90],
  ];
  for (const [name, change, damage, seq] of cases) {
    await store.write(change(original));
    const r = await verify(await exportAll(100));
    assert.equal(r.ok, false, name);
    assert.equal(r.damage, damage, `${name}: ${r.detail}`);
    assert.equal(r.firstBadSequence, seq, `${name}: ${r.detail}`);
    await store.write(original);
    assert.equal((await verify(await exportAll(100))).ok, true, `restored after ${name}`);
  }
}

type SqliteRow = Record<string, unknown> & { leaf_input: Buffer; event_id: string };

/** The SQLite rows, through a second connection (as an attacker with file access would). */
function sqliteRows(file: string): RowStore<SqliteRow> {
  const open = () => {
    const db = new Database(file);
    db.pragma('busy_timeout = 5000');
    return db;
  };
  return {
    read: async () => {
      const db = open();
      const rows = db.prepare('SELECT * FROM audit_log WHERE seq < 100 ORDER BY seq').all() as SqliteRow[];
      db.close();
      return rows;
    },
    write: async (rows) => {
      const db = open();
      db.transaction(() => {
        db.prepare('DELETE FROM audit_log WHERE seq < 100').run();
        const cols = Object.keys(rows[0]!);
        const ins = db.prepare(`INSERT INTO audit_log (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`);
        rows.forEach((r, i) => ins.run({ ...r, seq: i }));
      })();
      db.close();
    },
    edited: (row) => {
      const forged = Buffer.from(row.leaf_input);
      forged.writeUInt8(forged.readUInt8(forged.length - 1) ^ 0x01, forged.length - 1);
      return { ...row, leaf_input: forged };
    },
    forged: (row) => ({ ...row, event_id: `forged-${row.event_id}` }),
  };
}

type MongoRow = Record<string, unknown> & { _id: number; leafInput: Binary; eventId: string };

/** The MongoDB documents, through a second client (as an attacker with database access would). */
function mongoRows(url: string, dbName: string): RowStore<MongoRow> {
  const withDb = async <T>(fn: (c: MongoClient) => Promise<T>) => {
    const client = await MongoClient.connect(url);
    try {
      return await fn(client);
    } finally {
      await client.close();
    }
  };
  return {
    read: () => withDb((c) => c.db(dbName).collection<MongoRow>('audit_log').find({ _id: { $lt: 100 } }).sort({ _id: 1 }).toArray()),
    write: (rows) =>
      withDb(async (c) => {
        const col = c.db(dbName).collection<MongoRow>('audit_log');
        await col.deleteMany({ _id: { $lt: 100 } });
        await col.insertMany(rows.map((r, i) => ({ ...r, _id: i })));
      }),
    edited: (row) => {
      const forged = Buffer.from(row.leafInput.buffer);
      forged.writeUInt8(forged.readUInt8(forged.length - 1) ^ 0x01, forged.length - 1);
      return { ...row, leafInput: new Binary(forged) };
    },
    forged: (row) => ({ ...row, eventId: `forged-${row.eventId}` }),
  };
}

describe('audit verify catches tampering of MongoDB documents', () => {
  let h: AuditHarness | undefined;
  let skipped: string | undefined;
  let url = '';
  before(async () => {
    const mongo = await findMongo();
    if ('skipped' in mongo) {
      skipped = mongo.skipped;
      return;
    }
    url = mongo.url;
    h = await startAudit({ GATEHOUSE_STORE: 'mongodb', MONGO_URL: url, GATEHOUSE_AUDIT_CHECKPOINT_EVERY: '50' });
    const c = await h.client('identity');
    for (let i = 0; i < 4; i++) await append(c, Array.from({ length: 30 }, () => event()));
  });
  after(async () => {
    await h?.stop();
  });

  test('edited, deleted, reordered, inserted and truncated documents are caught in the next export', async (t) => {
    if (skipped || !h) {
      t.skip(`no MongoDB: ${skipped}`);
      return;
    }
    const harness = h;
    const c = await harness.client('identity');
    const keys = await call(c, c.getSigningKeys, {});
    const key = { keyId: keys.keys[0]!.keyId, publicKey: keys.keys[0]!.publicKey };
    const cli = await harness.client('cli');
    const exportAll = async (to?: number) => {
      const lines: string[] = [];
      const s = stream(cli, cli.export, auditV1.ExportRequest.fromPartial({ fromSequence: 0, toTreeSize: to }), {
        bearer: harness.sessions.token({ roles: ['security_officer'] }),
      });
      for await (const m of s as AsyncIterable<auditV1.ExportResponse>) lines.push(exportLine(m));
      return lines;
    };
    await tamperRows(mongoRows(url, 'gatehouse_audit'), (lines) => verifyExport(lines, { trustedKeys: [key] }), exportAll);
  });
});
