import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { setTimeout as sleep } from 'node:timers/promises';
import { allowlistV1 as A, auditEventV1, commonV1, type AllowlistServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { startAllowlist, type AllowlistHarness } from './test-support/harness.js';

const S = grpc.status;

/**
 * Issue 17 item 3 from outside: two product backends behind one NAT (both on 127.0.0.1, each
 * with its own certificate). One floods Check until it is refused; its neighbour is still served,
 * because an authenticated caller is limited by its own identity, not by the shared IP.
 */
describe('allowlist: the gRPC edge', () => {
  let h: AllowlistHarness;
  before(async () => {
    h = await startAllowlist({
      GATEHOUSE_RATE_LIMITS: JSON.stringify({ perCaller: { ratePerSec: 5, burst: 10 }, perIp: { ratePerSec: 5, burst: 10 }, methods: { Check: { perCaller: { ratePerSec: 5, burst: 10 } } } }),
    });
  });
  after(() => h?.stop());

  const check = (c: AllowlistServiceClient) =>
    call(c, c.check, A.CheckRequest.fromPartial({ ip: '203.0.113.7', environment: commonV1.Environment.ENVIRONMENT_STAGING })).then(
      () => 'ok' as const,
      (err: grpc.ServiceError) => err,
    );

  test('one backend flooding Check does not deny its neighbour on the same IP', async () => {
    const web = await h.client('web');
    const other = await h.client('other-backend');
    const flood = await Promise.all(Array.from({ length: 40 }, () => check(web)));
    const refusedFlood = flood.filter((r) => r !== 'ok') as grpc.ServiceError[];
    assert.ok(refusedFlood.length >= 25, `the flooding backend is limited (${refusedFlood.length} of 40 refused)`);
    assert.equal(refusedFlood[0]?.code, S.RESOURCE_EXHAUSTED);
    assert.match(refusedFlood[0]?.details ?? '', /rate limit exceeded for this caller/);
    const neighbour = await Promise.all(Array.from({ length: 10 }, () => check(other)));
    assert.deepEqual(neighbour, Array(10).fill('ok'), 'the other backend gets all 10 of its calls');
  });

  test('ListDailyIps naming another account from a non-officer is PERMISSION_DENIED, as the contract says (issue 17 item 7)', async () => {
    const cli = await h.client('cli');
    const dev = h.token({ roles: ['developer'], accountId: 'acc-dev' });
    const own = await call(cli, cli.listDailyIps, A.ListDailyIpsRequest.fromPartial({ accountId: 'acc-dev' }), { bearer: dev });
    assert.deepEqual(own.dailyIps, []);
    const err = await call(cli, cli.listDailyIps, A.ListDailyIpsRequest.fromPartial({ accountId: 'acc-other' }), { bearer: dev }).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    assert.equal(err?.code, S.PERMISSION_DENIED);
    assert.match(err?.details ?? '', /only the security officer may list another account's daily IPs/);
  });

  test('Check refuses an account id or IP that audit would refuse, audits the refusal, and records claimed accounts as claimed (issue 17 items 1, 2)', async () => {
    const web = await h.client('web');
    // Let this backend's Check bucket (5/s, burst 10 in this suite) refill after the flood test.
    await sleep(2500);
    await h.drainAudit();
    const before = h.events.length;
    const check = (ip: string, accountId?: string) =>
      call(web, web.check, A.CheckRequest.fromPartial({ ip, environment: commonV1.Environment.ENVIRONMENT_STAGING, ...(accountId !== undefined ? { accountId } : {}) })).then(
        (r) => r,
        (e: grpc.ServiceError) => e,
      );
    for (const [ip, accountId, field] of [
      ['203.0.113.7', 'acc-1\u0007', 'account_id'],
      ['203.0.113.7', '$ne', 'account_id'],
      ['203.0.113.7', 'a'.repeat(300), 'account_id'],
      ['203.0.113.7\r\n', undefined, 'ip'],
    ] as const) {
      const r = await check(ip, accountId);
      assert.ok(r instanceof Error, `refused: ${JSON.stringify([ip, accountId])}`);
      assert.equal((r as grpc.ServiceError).code, S.INVALID_ARGUMENT);
      assert.match((r as grpc.ServiceError).details, new RegExp(`^${field}: `));
    }
    const denied = await check('203.0.113.9', 'acc-claimed');
    assert.ok(!(denied instanceof Error) && denied.decision === A.CheckDecision.CHECK_DECISION_DENY);
    // Denials are flushed every 500 ms, so on a loaded machine the three account_id refusals can
    // fall into two flushes (counts 2 + 1): what a reader relies on is the total per backend and
    // field, so sum the groups, and wait (bounded) until the flushes have shipped.
    const seen = () => {
      const events = h.events.slice(before).filter((e) => e.action === auditEventV1.Action.ACTION_ALLOWLIST_CHECK_DENY);
      const totals = new Map<string, number>();
      for (const e of events.filter((x) => x.details['reason'] === 'invalid_request')) {
        const key = `${e.actor?.id}|${e.details['field']}`;
        totals.set(key, (totals.get(key) ?? 0) + Number(e.details['count']));
      }
      return { events, totals: [...totals].sort() };
    };
    const expected = [
      ['backend:web|account_id', 3],
      ['backend:web|ip', 1],
    ];
    const deadline = Date.now() + 10_000;
    let got = seen();
    while (Date.now() < deadline) {
      await sleep(250);
      await h.drainAudit();
      got = seen();
      const done = JSON.stringify(got.totals) === JSON.stringify(expected) && got.events.some((e) => e.details['claimed_account_id'] === 'acc-claimed');
      if (done) break;
    }
    const { events } = got;
    assert.deepEqual(got.totals, expected, 'every refused Check left a trace, naming the backend');
    const claimed = events.find((e) => e.details['claimed_account_id'] === 'acc-claimed');
    assert.equal(claimed?.actor?.kind, auditEventV1.ActorKind.ACTOR_KIND_SERVICE);
    assert.equal(claimed?.actor?.id, 'backend:web', 'the backend that made the claim is the actor, not the employee');
  });
});
