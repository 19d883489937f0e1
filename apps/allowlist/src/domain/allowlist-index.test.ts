import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AllowlistIndex } from './allowlist-index.js';
import type { AllowlistEntry, DailyIp, EntryScope } from './model.js';

const T0 = Date.UTC(2026, 10, 27, 9);
let n = 0;
function entry(cidr: string, scope: EntryScope, expiresAt: number | null): AllowlistEntry {
  n++;
  return {
    entryId: `ent_${String(n).padStart(16, '0')}`,
    cidr,
    label: 'x',
    scope,
    expiresAt: expiresAt === null ? null : new Date(expiresAt),
    createdBy: { accountId: 'acc-o', email: 'o@x' },
    reason: 'x',
    createdAt: new Date(T0),
    removedAt: null,
    removedBy: null,
    removeReason: null,
    activeKey: `${cidr}|${scope}`,
  };
}
function daily(ip: string, accountId: string, scope: EntryScope, expiresAt: number): DailyIp {
  n++;
  return { dailyIpId: `dip_${String(n).padStart(16, '0')}`, ip, accountId, email: `${accountId}@x`, scope, registeredAt: new Date(T0), expiresAt: new Date(expiresAt), slot: 1 };
}

test('cached decisions equal fresh evaluations at every instant, across every expiry', () => {
  const entries = [
    entry('10.0.0.0/16', 'all', T0 + 5_000),
    entry('10.0.1.0/24', 'live', T0 + 9_000),
    entry('10.0.1.0/24', 'staging', null),
    entry('2001:db8::/48', 'staging', T0 + 3_000),
    entry('10.0.2.7/32', 'all', null),
  ];
  const dailies = [daily('198.51.100.1', 'acc-a', 'all', T0 + 4_000), daily('198.51.100.1', 'acc-b', 'staging', T0 + 7_000), daily('10.0.1.9', 'acc-c', 'all', T0 + 11_000)];
  const cached = new AllowlistIndex(entries, dailies);
  const queries = ['10.0.0.1', '10.0.1.5', '10.0.1.9', '10.0.2.7', '2001:db8::1', '::ffff:10.0.0.1', '198.51.100.1', '203.0.113.1', 'bogus'];
  const accounts = [undefined, 'acc-a', 'acc-b', 'acc-c'];
  for (let t = T0 - 1000; t <= T0 + 12_000; t += 250) {
    for (const q of queries) {
      for (const acc of accounts) {
        for (const env of ['live', 'staging'] as const) {
          const fresh = new AllowlistIndex(entries, dailies).check(q, acc, env, new Date(t));
          const again = cached.check(q, acc, env, new Date(t));
          assert.deepEqual(again, fresh, `${q} ${acc ?? '-'} ${env} at +${t - T0} ms`);
        }
      }
    }
  }
  // Spot checks of what an officer relies on.
  assert.equal(cached.check('10.0.0.1', undefined, 'live', new Date(T0 + 4_999)).allow, true);
  assert.equal(cached.check('10.0.0.1', undefined, 'live', new Date(T0 + 5_000)).reason, 'expired');
  assert.equal(cached.check('198.51.100.1', 'acc-b', 'live', new Date(T0)).reason, 'environment_mismatch');
  assert.equal(cached.check('198.51.100.1', 'acc-z', 'staging', new Date(T0)).reason, 'other_account');
});
