import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { contentHashOf } from '../domain/audit-log.js';
import type { AuditEventData } from '../domain/event.js';
import { protoLeafCodec } from './convert.js';

/**
 * The leaf bytes are what the Merkle tree commits to and the content hash is how a retry is told
 * from a reused id: both are stored, so any faster way of computing them (issue 14 item 7: one
 * hash update, no fromPartial copies) must give exactly the bytes the log has always written.
 * The expected values were produced by the implementation before that change.
 */
const full: AuditEventData = {
  eventId: 'evt-golden-0001',
  occurredAt: new Date(Date.UTC(2026, 11, 7, 12, 0, 0, 123)),
  service: 'SERVICE_SECRETS',
  action: 'ACTION_SECRETS_RELEASE_REDEEM',
  outcome: 'OUTCOME_SUCCESS',
  actor: { kind: 'ACTOR_KIND_EMPLOYEE', id: 'acc-alice', displayName: 'alice@example.com' },
  subject: { kind: 'SUBJECT_KIND_SECRET', id: 'sec-1', displayName: 'db password' },
  customerDomain: 'example.com',
  sourceIp: '2001:db8::7',
  environment: 'ENVIRONMENT_LIVE',
  requestId: 'req-42',
  details: { reason: 'rotation', count: '2' },
  hashedDetails: { email: 'hmac-sha256:00ff' },
  intentEventId: 'evt-intent-0001',
  causalCounter: 17,
};
const bare: AuditEventData = { ...full, subject: undefined, details: {}, hashedDetails: {}, intentEventId: '', causalCounter: 0, customerDomain: '', environment: 'ENVIRONMENT_UNSPECIFIED' };
const leaf = (event: AuditEventData) => ({ sequence: 1234567, appendedAt: new Date(Date.UTC(2026, 11, 7, 12, 0, 1, 456)), submittedBy: 'service:secrets', event });

describe('stored leaf bytes and content hashes stay what the log has always written', () => {
  for (const [name, e, hash, bytes] of [
    ['every field set', full, '2ded32a39c7535b36c2c681a93868231f0c570ea94f0ac392204f98e4a64ae43', '0887ad4b120c08c1bfdad806108084b8d9011a0f736572766963653a7365637265747322d0010a0f6576742d676f6c64656e2d30303031120b08c0bfdad80610c0a9d33a1803202728013220080112096163632d616c6963651a11616c696365406578616d706c652e636f6d3a16080a12057365632d311a0b64622070617373776f7264420b6578616d706c652e636f6d4a0b323030313a6462383a3a3750015a067265712d343262120a06726561736f6e1208726f746174696f6e620a0a05636f756e741201326a190a05656d61696c1210686d61632d7368613235363a30306666720f6576742d696e74656e742d303030317811'],
    ['optional fields empty', bare, '658cd170be724e5e3827f3618844f2d52007caf3d173e4067cee3715773a56be', '0887ad4b120c08c1bfdad806108084b8d9011a0f736572766963653a73656372657473225b0a0f6576742d676f6c64656e2d30303031120b08c0bfdad80610c0a9d33a1803202728013220080112096163632d616c6963651a11616c696365406578616d706c652e636f6d4a0b323030313a6462383a3a375a067265712d3432'],
  ] as const) {
    it(`${name}: the content hash`, () => assert.equal(contentHashOf(e), hash));
    it(`${name}: the LeafData bytes, and they decode back to the event`, () => {
      const encoded = protoLeafCodec.encode(leaf(e));
      assert.equal(Buffer.from(encoded).toString('hex'), bytes);
      assert.deepEqual(protoLeafCodec.decode(encoded), leaf({ ...e, intentEventId: e.intentEventId ?? '', causalCounter: e.causalCounter ?? 0 }));
    });
  }
});
