import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { allowlistV1 as A } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { refused } from '@gatehouse/testing';
import { startAllowlist, type AllowlistHarness } from './test-support/harness.js';

/** chattr needs root and a file system with attributes (ext4 here); without them the test says so. */
function chattr(flag: '+i' | '-i', files: string[]): string | undefined {
  try {
    execFileSync('chattr', [flag, ...files], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return String((err as { stderr?: Buffer }).stderr ?? err).trim();
  }
}

/**
 * Issue 17 item 8 from outside: the allowlist's SQLite files are made immutable under the
 * running service. A write then answers UNAVAILABLE (retryable) naming the condition, not
 * INTERNAL; health reports NOT_SERVING; reads still answer; and once the files are writable
 * again the service probes, reports SERVING, and the write succeeds.
 */
describe('allowlist: a store that cannot write', () => {
  let h: AllowlistHarness;
  let files: string[] = [];
  before(async () => {
    h = await startAllowlist();
  });
  after(async () => {
    if (files.length) chattr('-i', files);
    await h?.stop();
  });

  test('UNAVAILABLE and NOT_SERVING while the files are immutable, SERVING again after', async (t) => {
    const dataDir = h.env['GATEHOUSE_DATA_DIR'] ?? '';
    const cli = await h.client('cli');
    const officer = h.token({ roles: ['security_officer'], accountId: 'acc-olga' });
    const add = (cidr: string) => call(cli, cli.addEntry, A.AddEntryRequest.fromPartial({ cidr, scope: A.EntryScope.ENTRY_SCOPE_ALL, label: 'office', reason: 'test' }), { bearer: officer });
    await add('198.51.100.0/24');
    files = fs.readdirSync(dataDir).filter((f) => f.startsWith('allowlist.db') && !f.endsWith('-shm')).map((f) => path.join(dataDir, f));
    const why = chattr('+i', files);
    if (why) {
      files = [];
      t.skip(`cannot make files immutable here: ${why}`);
      return;
    }
    try {
      const err = await refused(add('203.0.113.0/24'));
      assert.equal(err.code, grpc.status.UNAVAILABLE, err.details);
      assert.match(err.details, /store cannot write \(SQLITE_/);
      assert.doesNotMatch(err.details, /allowlist\.db|\/tmp/, 'no file name in the answer');
      const listed = await call(cli, cli.listEntries, A.ListEntriesRequest.fromPartial({}), { bearer: officer });
      assert.ok(listed.entries.some((e) => e.cidr === '198.51.100.0/24'), 'reads still answer');
      assert.ok(!listed.entries.some((e) => e.cidr === '203.0.113.0/24'), 'the refused write added nothing');
      assert.equal(await servingStatus(h), 'NOT_SERVING');
    } finally {
      chattr('-i', files);
      files = [];
    }
    for (let i = 0; (await servingStatus(h)) !== 'SERVING'; i++) {
      assert.ok(i < 50, 'SERVING again within 5 s once the store can write');
      await sleep(100);
    }
    await add('203.0.113.0/24');
  });
});

/** grpc.health.v1 for the service, as a probe sees it (the harness's operator certificate). */
async function servingStatus(h: AllowlistHarness): Promise<string> {
  const c = await h.client('cli');
  return new Promise((resolve) => {
    c.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (x: Buffer) => x,
      (b: Buffer) => (b.length >= 2 && b[0] === 0x08 ? (['UNKNOWN', 'SERVING', 'NOT_SERVING'][b[1] ?? 0] ?? 'UNKNOWN') : 'UNKNOWN'),
      Buffer.alloc(0),
      (err, res) => resolve(err ? `error ${err.code}` : String(res)),
    );
  });
}
