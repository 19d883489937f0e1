import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { allowlistV1 as A, commonV1, type AllowlistServiceClient } from '@gatehouse/contracts';
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
});
