import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { auditV1 } from '@gatehouse/contracts';
import { exportLine, verifyExport, type TrustedKey } from '@gatehouse/audit-verify';
import { call, stream } from '@gatehouse/service-kit';
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
    const file = path.join(h.dir, 'data', 'audit.db');
    const tamper = (sql: (db: Database.Database) => void) => {
      const db = new Database(file);
      db.pragma('busy_timeout = 5000');
      sql(db);
      db.close();
    };
    const snapshot = () => {
      const db = new Database(file, { readonly: true });
      const rows = db.prepare('SELECT * FROM audit_log WHERE seq < 100 ORDER BY seq').all() as Array<Record<string, unknown>>;
      db.close();
      return rows;
    };
    const restore = (rows: Array<Record<string, unknown>>) =>
      tamper((db) => {
        db.prepare('DELETE FROM audit_log WHERE seq < 100').run();
        const cols = Object.keys(rows[0]!);
        const ins = db.prepare(`INSERT INTO audit_log (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`);
        for (const r of rows) ins.run(r);
      });
    const original = snapshot();
    const expect = async (name: string, damage: string, seq: number) => {
      const r = await verify(await exportAll(100));
      assert.equal(r.ok, false, name);
      assert.equal(r.damage, damage, `${name}: ${r.detail}`);
      assert.equal(r.firstBadSequence, seq, `${name}: ${r.detail}`);
      restore(original);
      assert.equal((await verify(await exportAll(100))).ok, true, `restored after ${name}`);
    };

    tamper((db) => {
      const row = db.prepare('SELECT leaf_input FROM audit_log WHERE seq = 30').get() as { leaf_input: Buffer };
      const forged = Buffer.from(row.leaf_input);
      forged.writeUInt8(forged.readUInt8(forged.length - 1) ^ 0x01, forged.length - 1);
      db.prepare('UPDATE audit_log SET leaf_input = ? WHERE seq = 30').run(forged);
    });
    await expect('row edited', 'edited', 30);

    tamper((db) => db.prepare('DELETE FROM audit_log WHERE seq = 30').run());
    await expect('row deleted', 'deleted', 30);

    tamper((db) => {
      db.prepare('UPDATE audit_log SET seq = -1 WHERE seq = 30').run();
      db.prepare('UPDATE audit_log SET seq = 30 WHERE seq = 31').run();
      db.prepare('UPDATE audit_log SET seq = 31 WHERE seq = -1').run();
    });
    await expect('rows reordered', 'reordered', 30);

    tamper((db) => {
      db.prepare('DELETE FROM audit_log WHERE seq = 99').run();
      db.prepare('UPDATE audit_log SET seq = -seq - 1 WHERE seq >= 30 AND seq < 99').run();
      db.prepare('UPDATE audit_log SET seq = -seq WHERE seq < 0').run();
      db.prepare("INSERT INTO audit_log SELECT 30, 'forged-event-0001', content_hash, occurred_at, appended_at, service, action, outcome, actor_id, subject_kind, subject_id, customer_domain, source_ip, environment, request_id, submitted_by, leaf_input, leaf_hash FROM audit_log WHERE seq = 29").run();
    });
    await expect('row inserted', 'inserted', 30);

    tamper((db) => db.prepare('DELETE FROM audit_log WHERE seq >= 90 AND seq < 100').run());
    await expect('tail truncated', 'truncated', 90);
  });
});
