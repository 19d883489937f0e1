import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { allowlistV1, auditEventV1, commonV1, type AllowlistServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { backendEnv, STORAGE_BACKENDS } from '@gatehouse/testing';
import { startAllowlist, type AllowlistHarness } from './test-support/harness.js';

const A = allowlistV1;
const LIVE = commonV1.Environment.ENVIRONMENT_LIVE;
const ALLOW = A.CheckDecision.CHECK_DECISION_ALLOW;
const DENY = A.CheckDecision.CHECK_DECISION_DENY;
const OVERLAPS = A.EntryWarningKind.ENTRY_WARNING_KIND_OVERLAPS_EXISTING;

const addOn = (h: AllowlistHarness, cli: AllowlistServiceClient, officer: string) => (cidr: string) =>
  call(cli, cli.addEntry, A.AddEntryRequest.fromPartial({ cidr, scope: A.EntryScope.ENTRY_SCOPE_ALL, label: 'office', reason: 'test' }), { bearer: officer });
const checkOn = (svc: AllowlistServiceClient) => (ip: string) => call(svc, svc.check, A.CheckRequest.fromPartial({ ip, environment: LIVE }));

/**
 * Counts what the replica's SQLite connection does from now on: COMMITs (the fsyncs its callers
 * pay for) and full reads of the active entry set (each one parses every entry).
 */
function countStore(h: AllowlistHarness): { commits: () => number; entryScans: () => number; file: string } {
  const opened = h.replicas[0]?.store;
  assert.equal(opened?.backend, 'sqlite');
  const db = opened.store.db;
  let commits = 0;
  let scans = 0;
  const exec = db.exec;
  db.exec = ((sql: string) => {
    if (sql.trim().toUpperCase() === 'COMMIT') commits++;
    return exec.call(db, sql);
  }) as typeof db.exec;
  const prepare = db.prepare;
  db.prepare = ((sql: string) => {
    if (/^SELECT doc FROM entries WHERE removed_at IS NULL/.test(sql)) scans++;
    return prepare.call(db, sql);
  }) as typeof db.prepare;
  return { commits: () => commits, entryScans: () => scans, file: opened.store.file };
}

describe('allowlist: concurrent AddEntry calls share durable commits (issue 14 item 7)', () => {
  test('sqlite: 160 AddEntry from 16 callers in a closed loop over gRPC read the entry set back only at the polls and pay at most half as many COMMITs; each entry is on disk, answers Check on its replica and has its event when its caller hears OK', async (t) => {
    const POLL_MS = 1000;
    const h = await startAllowlist({ GATEHOUSE_ALLOWLIST_POLL_MS: String(POLL_MS) });
    try {
      const cli = await h.client('cli');
      const svc = await h.client('other-backend');
      const officer = h.token({ roles: ['security_officer'], accountId: 'acc-officer', email: 'olga@bank.example' });
      const add = addOn(h, cli, officer);
      const check = checkOn(svc);
      await add('10.99.0.1/32'); // warm: connections, keys
      const { commits, entryScans, file } = countStore(h);
      const t0 = Date.now();
      const disk = new Database(file, { readonly: true });
      const onDisk = disk.prepare('SELECT count(*) FROM entries WHERE entry_id = ?').pluck();
      // A closed loop, as the officer's tooling or the bench drives it: 16 callers, each sending
      // its next AddEntry when the last one answered (so the calls do not arrive in step).
      const results: Array<{ id: string; stored: unknown; decision: number; entryId: string | undefined }> = [];
      await Promise.all(
        Array.from({ length: 16 }, async (_, w) => {
          for (let k = 0; k < 10; k++) {
            const ip = `10.99.${w + 1}.${k}`;
            const r = await add(`${ip}/32`);
            const id = r.entry?.entryId ?? '';
            // What the caller relies on once told OK: committed, and this replica's Check matches it.
            const stored = onDisk.get(id);
            const answer = await check(ip);
            results.push({ id, stored, decision: answer.decision, entryId: answer.entryId });
          }
        }),
      );
      const n = commits();
      const scans = entryScans();
      const polls = Math.ceil((Date.now() - t0) / POLL_MS);
      disk.close();
      t.diagnostic(`160 AddEntry, 16 in flight, ${Date.now() - t0} ms: ${n} COMMITs, ${scans} reads of the whole entry set (${polls} polls)`);
      for (const r of results) {
        assert.equal(r.stored, 1, `entry ${r.id} committed before its OK`);
        assert.equal(r.decision, ALLOW, `the replica that added ${r.id} answers Check with it at once`);
        assert.equal(r.entryId, r.id);
      }
      assert.equal(results.length, 160);
      // A write must not cost a read of every entry (10,000 in a large deployment): the replica
      // shows its own change from memory, and reads the set only when its poll sees a change.
      assert.ok(scans <= polls + 1, `AddEntry read the whole entry set back ${scans} times for 160 calls (the poll alone: at most ${polls + 1})`);
      assert.ok(n <= 80, `AddEntry units of 16 callers share group commits: ${n} COMMITs for 160 calls (one each would be 160)`);
      await h.drainAudit();
      const ids = new Set(results.map((r) => r.id));
      const events = h.events.filter((e) => e.action === auditEventV1.Action.ACTION_ALLOWLIST_ENTRY_ADD && ids.has(e.subject?.id ?? ''));
      assert.equal(events.length, 160, 'one entry_add event per entry');
    } finally {
      await h.stop();
    }
  });

  for (const backend of STORAGE_BACKENDS) {
    test(`${backend}: the replica that adds or removes an entry answers Check and overlap warnings with it at once, a second replica within 1 s`, async (t) => {
      const env = await backendEnv('allowlist', backend, (why) => t.skip(why));
      if (!env) return;
      // A poll slower than the test: only the replica's own changes can make it see them at once.
      const h = await startAllowlist({ ...env, GATEHOUSE_ALLOWLIST_POLL_MS: '400' });
      try {
        await h.addReplica(env);
        const officer = h.token({ roles: ['security_officer'] });
        const add = addOn(h, await h.client('cli', 0), officer);
        const check = checkOn(await h.client('other-backend', 0));
        const other = checkOn(await h.client('other-backend', 1));
        const cli = await h.client('cli', 0);

        const wide = await add('10.88.0.0/16');
        assert.equal((await check('10.88.7.7')).decision, ALLOW, 'added: matched at once');
        const narrow = await add('10.88.1.0/24');
        const overlap = narrow.warnings.filter((w) => w.kind === OVERLAPS);
        assert.deepEqual(overlap.map((w) => w.relatedEntryId), [wide.entry?.entryId], 'warned of the overlap with the entry just added');
        assert.match(overlap[0]?.message ?? '', /10\.88\.1\.0\/24 overlaps 10\.88\.0\.0\/16/);

        await call(cli, cli.removeEntry, { entryId: wide.entry?.entryId ?? '', reason: 'done' }, { bearer: officer });
        assert.equal((await check('10.88.7.7')).decision, DENY, 'removed: no longer matched, at once');
        assert.equal((await check('10.88.1.1')).decision, ALLOW, 'the other entry still matches');
        const later = await add('10.88.2.0/24');
        assert.deepEqual(later.warnings.filter((w) => w.kind === OVERLAPS), [], 'no overlap with the removed entry');

        const t0 = Date.now();
        for (;;) {
          const [a, b] = await Promise.all([other('10.88.7.7'), other('10.88.2.2')]);
          if (a.decision === DENY && b.decision === ALLOW) break;
          assert.ok(Date.now() - t0 < 1000, 'the second replica converged within 1 s');
          await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        await h.stop();
      }
    });
  }
});
