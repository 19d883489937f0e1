import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { auditV1, AuditServiceService } from '@gatehouse/contracts';
import { useFakeService } from './test-support/fake-service.js';

const SESSION_TOKEN = 'eyJhbGciOiJFZERTQSJ9.c2Vzc2lvbi1jYW5hcnk.c2lnbmF0dXJlLWNhbmFyeQ';

/** Issue 13 item 15 (audit part): an empty answer says so, and a limit shows the newest events. */
describe('gatehouse audit query: no match, and --limit', () => {
  const bench = useFakeService({
    service: 'audit',
    definition: AuditServiceService,
    sessionToken: SESSION_TOKEN,
    canaries: [SESSION_TOKEN],
    defaults: () => ({ Query: () => auditV1.QueryResponse.fromPartial({ entries: [], treeSize: 6 }) }),
  });

  test('no match prints "no events", and an empty list with --json', async () => {
    const r = await bench.gatehouse(['audit', 'query', '--actor', 'acc-nobody'], bench.withSession());
    assert.equal(r.code, 0, r.all());
    assert.deepEqual(r.out, ['no events']);
    const j = await bench.gatehouse(['audit', 'query', '--actor', 'acc-nobody', '--json'], bench.withSession());
    assert.equal(j.code, 0, j.all());
    assert.deepEqual(j.out, ['[]']);
  });

  test('with --limit the default order is newest first; --asc keeps the oldest first; without a limit, oldest first', async () => {
    const order = async (args: string[]) => {
      bench.calls.length = 0;
      const r = await bench.gatehouse(['audit', 'query', ...args], bench.withSession());
      assert.equal(r.code, 0, r.all());
      return bench.callOf<auditV1.QueryRequest>('Query').req.order;
    };
    assert.equal(await order(['--limit', '5']), auditV1.QueryOrder.QUERY_ORDER_DESCENDING);
    assert.equal(await order(['--limit', '5', '--asc']), auditV1.QueryOrder.QUERY_ORDER_ASCENDING);
    assert.equal(await order([]), auditV1.QueryOrder.QUERY_ORDER_ASCENDING);
    assert.equal(await order(['--desc']), auditV1.QueryOrder.QUERY_ORDER_DESCENDING);
  });
});
