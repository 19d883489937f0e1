import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditedTransaction, AuditedUnitOfWork, DomainAuditEvent } from '@gatehouse/audit-client';
import { ManualClock } from '@gatehouse/core';
import { Allowlist, type AllowlistAction } from './allowlist-service.js';
import type { ChangeVersion, DailyIpRepository, EntryRepository } from './model.js';

type Event = DomainAuditEvent<AllowlistAction>;

/**
 * A unit-of-work double: a unit's staged events are `recorded` when it commits, which it does
 * only if `refuses` accepts every one of them (audit's check before the commit fails the unit).
 */
function unitsOfWork(recorded: Event[], refuses: (e: Event) => boolean = () => false): AuditedUnitOfWork<AllowlistAction> & { units: string[] } {
  const units: string[] = [];
  return {
    units,
    async run(fn, useCase = 'unit') {
      const staged: Event[] = [];
      const tx = { backend: 'sqlite', audit: (...e: Event[]) => void staged.push(...e), faultPoint: () => undefined } as unknown as AuditedTransaction<AllowlistAction>;
      const out = await fn(tx);
      if (staged.some(refuses)) throw new Error('refused: looks like a JWT');
      units.push(useCase);
      recorded.push(...staged);
      return out;
    },
  };
}

function allowlist(maxAnonymousGroups: number) {
  const recorded: Event[] = [];
  const uow = unitsOfWork(recorded);
  const a = new Allowlist({
    entries: { listActive: async () => [] } as unknown as EntryRepository,
    dailyIps: { listUnexpired: async () => [] } as unknown as DailyIpRepository,
    version: { current: async () => 0, bump: async () => 1 } as ChangeVersion,
    uow,
    clock: new ManualClock(Date.UTC(2026, 10, 27)),
    settings: { minPrefixV4: 16, minPrefixV6: 48, cutoffTimeZone: 'UTC', cutoffHour: 4, dailyCap: 3, staticEntries: [], pollMs: 250, denialFlushMs: 500, maxAnonymousGroups },
  });
  return { a, recorded, uow };
}

test('one flush: identified denials one event each; anonymous grouped per IP up to the cap, the rest summed', async () => {
  const { a, recorded, uow } = allowlist(100);
  const src = { ip: '10.0.0.1', requestId: 'req-1' };
  for (let i = 0; i < 7; i++) a.check('198.51.100.9', 'acc-1', 'live', src, 'backend:web');
  for (let i = 0; i < 1000; i++) a.check(`203.0.${Math.floor(i / 2) % 250}.${i % 2}`, undefined, 'staging', src, 'backend:web');
  a.check('not an ip', undefined, 'live', src, 'backend:web');
  await a.flushDenials();
  assert.deepEqual(uow.units, ['deny'], 'one flush, one unit of work (one commit)');
  const identified = recorded.filter((e) => e.details?.['claimed_account_id']);
  assert.equal(identified.length, 7);
  assert.ok(
    identified.every(
      (e) => e.details?.['claimed_account_id'] === 'acc-1' && e.sourceIp === '198.51.100.9' && e.environment === 'live' && e.details?.['reason'] === 'no_match',
    ),
  );
  // The account is what the backend claims, so the backend is the actor (issue 17 item 2).
  assert.ok(identified.every((e) => e.actor.kind === 'service' && e.actor.id === 'backend:web'));
  const anonymous = recorded.filter((e) => e.actor.kind === 'anonymous');
  assert.equal(anonymous.length, 101, '100 groups and one overflow event');
  assert.equal(anonymous.reduce((n, e) => n + Number(e.details?.['count']), 0), 1001, 'no denial uncounted');
  const malformed = anonymous.find((e) => e.details?.['reason'] === 'malformed_ip');
  assert.ok(!malformed || malformed.sourceIp === undefined, 'a malformed IP is never put in source_ip');
  // The buffer is empty after a flush.
  recorded.length = 0;
  await a.flushDenials();
  assert.equal(recorded.length, 0);
});

test('a denial audit would refuse (an odd account id) does not cost the others', async () => {
  const committed: Event[] = [];
  const errors: unknown[] = [];
  const a = new Allowlist({
    entries: { listActive: async () => [] } as unknown as EntryRepository,
    dailyIps: { listUnexpired: async () => [] } as unknown as DailyIpRepository,
    version: { current: async () => 0, bump: async () => 1 } as ChangeVersion,
    uow: unitsOfWork(committed, (x) => x.details?.['claimed_account_id']?.startsWith('eyJ') === true),
    clock: new ManualClock(Date.UTC(2026, 10, 27)),
    settings: { minPrefixV4: 16, minPrefixV6: 48, cutoffTimeZone: 'UTC', cutoffHour: 4, dailyCap: 3, staticEntries: [], pollMs: 250, denialFlushMs: 500, maxAnonymousGroups: 10 },
    onError: (err) => errors.push(err),
  });
  const src = { ip: '10.0.0.1', requestId: 'req-1' };
  a.check('198.51.100.9', 'acc-1', 'live', src, 'backend:web');
  a.check('198.51.100.9', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.x', 'live', src, 'backend:web');
  a.check('198.51.100.9', 'acc-2', 'live', src, 'backend:web');
  await a.flushDenials();
  const recorded = committed.map((x) => x.details?.['claimed_account_id'] ?? '');
  assert.deepEqual(recorded, ['acc-1', 'acc-2']);
  assert.equal(errors.length, 1);
});

test('Check refuses an account id or IP audit would refuse, before deciding, and audits the refusal (issue 17 item 1)', async () => {
  const { a, recorded } = allowlist(10);
  const src = { ip: '10.0.0.1', requestId: 'req-1' };
  assert.throws(() => a.check('198.51.100.9', 'acc-1\u0007', 'live', src, 'backend:web'), /account_id: is not an account id/);
  assert.throws(() => a.check('198.51.100.9', '$ne', 'live', src, 'backend:web'), /account_id: is not an account id/);
  assert.throws(() => a.check('198.51.100.9\n', undefined, 'live', src, 'backend:web'), /ip: must be an IP address in text form/);
  assert.throws(() => a.check('\u0000', undefined, 'live', src, 'backend:web'), /ip: must be an IP address/);
  await a.flushDenials();
  const refusals = recorded.filter((e) => e.details?.['reason'] === 'invalid_request');
  assert.deepEqual(
    refusals.map((e) => [e.actor.kind, e.actor.id, e.details?.['field'], e.details?.['count']]),
    [
      ['service', 'backend:web', 'account_id', '2'],
      ['service', 'backend:web', 'ip', '2'],
    ],
  );
  assert.ok(!JSON.stringify(recorded).includes('\\u0007') && !JSON.stringify(recorded).includes('$ne'), 'the refused values are not recorded');
});
