import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { allowlistV1, auditEventV1, type AllowlistServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { assertBothOrNeither, backendEnv, refused, STORAGE_BACKENDS } from '@gatehouse/testing';
import { startAllowlist, type AllowlistHarness } from './test-support/harness.js';

const A = allowlistV1;
const SPEC = { file: 'apps/allowlist/src/service.ts', exportName: 'allowlistService' };

/** Every kill point of a use case: after each of its writes, then before and after the commit. */
const POINTS: Record<'add-entry' | 'remove-entry' | 'register-daily-ip', string[]> = {
  'add-entry': ['entry-created', 'version-bumped', 'before-commit', 'after-commit'],
  'remove-entry': ['entry-removed', 'version-bumped', 'before-commit', 'after-commit'],
  'register-daily-ip': ['daily-ip-created', 'version-bumped', 'before-commit', 'after-commit'],
};

/** The officer's view of the store, through the surviving in-process replica. */
async function activeEntry(h: AllowlistHarness, cidr: string, bearer: string): Promise<allowlistV1.Entry | undefined> {
  const cli = await h.client('cli', 0);
  const list = await call(cli, cli.listEntries, A.ListEntriesRequest.fromPartial({ includeExpired: true }), { bearer });
  return list.entries.find((e) => e.cidr === cidr);
}

/**
 * Kills a child replica at `point` during the RPC `act` sends to it, then reads what survived:
 * whether the state change is in the store and whether its audit event reached audit. Anything
 * but both or neither fails (issue 14 item 5).
 */
async function crashAt(
  h: AllowlistHarness,
  backend: string,
  useCase: string,
  step: string,
  act: (child: AllowlistServiceClient) => Promise<unknown>,
  found: () => Promise<{ state: boolean; event: boolean }>,
): Promise<void> {
  const point = `allowlist.${useCase}.${step}`;
  const replica = await h.spawnReplica(SPEC, { GATEHOUSE_TEST_FAULT_POINT: point });
  try {
    const child = await replica.client('cli');
    await refused(act(child));
    const { signal } = await replica.exited;
    assert.equal(signal, 'SIGKILL', `${point}: the replica died at the point`);
    child.close();
  } finally {
    await replica.kill();
  }
  await h.drainAudit();
  assertBothOrNeither({ useCase, point, backend }, await found());
}

for (const backend of STORAGE_BACKENDS) {
  describe(`allowlist crash test on ${backend}: a change and its audit event survive together or not at all`, () => {
    test('AddEntry, RemoveEntry and RegisterDailyIp killed at every write, before and after the commit', { timeout: 300_000 }, async (t) => {
      const env = await backendEnv('allowlist', backend, (why) => t.skip(why));
      if (!env) return;
      // The replica in the test process is the one left standing: it ships what the outbox holds.
      const h = await startAllowlist(env);
      try {
        const officer = h.token({ roles: ['security_officer'], accountId: 'acc-officer', email: 'olga@bank.example' });
        const eventFor = (action: auditEventV1.Action, match: (e: auditEventV1.AuditEvent) => boolean) => h.events.some((e) => e.action === action && match(e));
        let n = 0;

        for (const step of POINTS['add-entry']) {
          const cidr = `10.${++n}.0.0/16`;
          await crashAt(
            h,
            backend,
            'add-entry',
            step,
            (child) => call(child, child.addEntry, A.AddEntryRequest.fromPartial({ cidr, scope: A.EntryScope.ENTRY_SCOPE_ALL, label: 'crash', reason: `crash at ${step}` }), { bearer: officer, deadlineMs: 20_000 }),
            async () => ({
              state: (await activeEntry(h, cidr, officer)) !== undefined,
              event: eventFor(auditEventV1.Action.ACTION_ALLOWLIST_ENTRY_ADD, (e) => e.subject?.displayName === cidr),
            }),
          );
        }

        for (const step of POINTS['remove-entry']) {
          const cidr = `10.${++n}.0.0/16`;
          const cli = await h.client('cli', 0);
          const added = await call(cli, cli.addEntry, A.AddEntryRequest.fromPartial({ cidr, scope: A.EntryScope.ENTRY_SCOPE_ALL, label: 'crash', reason: 'to be removed' }), { bearer: officer });
          const entryId = added.entry?.entryId ?? '';
          await crashAt(
            h,
            backend,
            'remove-entry',
            step,
            (child) => call(child, child.removeEntry, { entryId, reason: `crash at ${step}` }, { bearer: officer, deadlineMs: 20_000 }),
            async () => ({
              state: (await activeEntry(h, cidr, officer)) === undefined,
              event: eventFor(auditEventV1.Action.ACTION_ALLOWLIST_ENTRY_REMOVE, (e) => e.subject?.id === entryId),
            }),
          );
        }

        for (const step of POINTS['register-daily-ip']) {
          const accountId = `acc-crash-${step}`;
          const cli = await h.client('cli', 0);
          await crashAt(
            h,
            backend,
            'register-daily-ip',
            step,
            (child) => call(child, child.registerDailyIp, {}, { bearer: h.token({ roles: ['developer'], accountId, scope: 'register-ip' }), deadlineMs: 20_000 }),
            async () => ({
              state: (await call(cli, cli.listDailyIps, { accountId, includeExpired: true, pageSize: 10, pageToken: '' }, { bearer: officer })).dailyIps.length > 0,
              event: eventFor(auditEventV1.Action.ACTION_ALLOWLIST_DAILY_IP_REGISTER, (e) => e.actor?.id === accountId),
            }),
          );
        }
      } finally {
        await h.stop();
      }
    });
  });
}
