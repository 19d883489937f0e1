import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { auditV1 } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { refused, sendBytes } from '@gatehouse/testing';
import { append, event, startAudit, type AuditHarness } from './test-support/harness.js';

const QUERY = '/gatehouse.audit.v1.AuditService/Query';
const decode = (b: Buffer) => auditV1.QueryResponse.decode(b);

/**
 * Issue 17 items 5 and 6 from outside: raw bytes on the wire to the real audit service. A
 * payload the lenient decoder would read as "no filter" (tag 0, a known field with the wrong
 * wire type) is refused with INVALID_ARGUMENT naming the problem, instead of answering every
 * event; and a caller the policy refuses gets PERMISSION_DENIED whatever bytes it sends.
 */
describe('audit: malformed requests at the gRPC edge', () => {
  let h: AuditHarness;
  before(async () => {
    h = await startAudit();
    const identity = await h.client('identity');
    await append(identity, [event({ actor: { kind: 1, id: 'acc-alice', displayName: '' } }), event(), event()]);
  });
  after(() => h?.stop());

  test('a filter that cannot be read is INVALID_ARGUMENT, not "every event"', async () => {
    const shipper = await h.client('shipper');
    const filtered = auditV1.QueryRequest.encode(auditV1.QueryRequest.fromPartial({ filter: { actorId: 'acc-nobody' } })).finish();
    const ok = await call(shipper, shipper.query, auditV1.QueryRequest.decode(filtered));
    assert.equal(ok.entries.length, 0, 'the well-formed filter matches nothing');

    for (const [what, bytes] of [
      ['a tag-0 byte before the filter', Buffer.concat([Buffer.from([0x00]), filtered])],
      ['the filter (field 1) sent as a varint', Buffer.from([0x08, 0x01])],
      ['the filter sent as a 32-bit value', Buffer.from([0x0d, 1, 2, 3, 4])],
      // The generated decoder throws on this one: grpc-js used to answer INTERNAL.
      ['a length beyond the end of the message', Buffer.from([0x0a, 0x7f, 0x01])],
    ] as const) {
      const err = await refused(sendBytes(shipper, QUERY, Buffer.from(bytes), decode));
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT, `${what}: ${err.details}`);
      assert.match(err.details, /malformed Query request/, what);
    }
  });

  test('a caller the policy refuses gets PERMISSION_DENIED for any bytes, before they are decoded', async () => {
    // A service certificate (allowlist) may Append but not Query.
    const allowlist = await h.client('allowlist');
    for (const bytes of [Buffer.from([0x00, 0xff, 0xff]), Buffer.from([0x0a, 0x7f]), Buffer.alloc(0)]) {
      const err = await refused(sendBytes(allowlist, QUERY, bytes, decode));
      assert.equal(err.code, grpc.status.PERMISSION_DENIED, err.details);
      assert.match(err.details, /not allowed to call/);
    }
  });
});
