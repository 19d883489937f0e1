import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as protoLoader from '@grpc/proto-loader';
import { AllowlistServiceService, SERVICE_NAMES, allowlistV1, auditV1, descriptorSet } from '@gatehouse/contracts';
import { MalformedRequest, WireChecker } from './strict-decode.js';

const pd = protoLoader.loadFileDescriptorSetFromBuffer(descriptorSet(), { keepCase: true, enums: String, longs: String });
const checker = new WireChecker(pd);
const Q = 'gatehouse.audit.v1.QueryRequest';
const query = Buffer.from(auditV1.QueryRequest.encode(auditV1.QueryRequest.fromPartial({ filter: { actorId: 'acc-1' }, pageSize: 10 })).finish());

test('WireChecker: well-formed requests pass, with unknown fields of a valid wire type (a newer client)', () => {
  assert.equal(checker.check(Q, query), undefined);
  assert.equal(checker.check(Q, Buffer.alloc(0)), undefined, 'an empty message is valid');
  assert.equal(checker.check(Q, Buffer.concat([query, Buffer.from([0xb8, 0x3e, 0x01])])), undefined, 'field 999 varint');
});

test('WireChecker: tag 0, wrong wire types, groups, and truncation are refused naming the field (issue 17 item 5)', () => {
  assert.match(checker.check(Q, Buffer.concat([Buffer.from([0x00]), query])) ?? '', /tag 0/);
  // Field 1 (filter) sent as a varint: the lenient decoder would drop the filter and return every event.
  assert.match(checker.check(Q, Buffer.from([0x08, 0x01])) ?? '', /field 1 \(filter\) has wire type varint, expected length-delimited/);
  // Inside the filter: actor_ids sent as a varint.
  const filter = auditV1.EventFilter.encode(auditV1.EventFilter.fromPartial({ actorId: 'a' })).finish();
  const badInner = Buffer.from([0x0a, filter.length + 2, ...filter, 0x00, 0x00]);
  assert.match(checker.check(Q, badInner) ?? '', /^filter: field number 0/);
  assert.match(checker.check(Q, Buffer.from([0x0b])) ?? '', /start-group/);
  assert.match(checker.check(Q, Buffer.from([0x0a, 0x05, 0x01])) ?? '', /longer than the message/);
  assert.match(checker.check(Q, Buffer.from([0x10, 0xff])) ?? '', /ends inside a varint/);
});

test('WireChecker.wrap: a bad payload becomes a MalformedRequest instead of a throw; a good one decodes as before', () => {
  const wrapped = checker.wrap(SERVICE_NAMES.allowlist, AllowlistServiceService);
  const check = Object.values(wrapped).find((d) => d.path.endsWith('/Check'));
  assert.ok(check);
  const good = Buffer.from(allowlistV1.CheckRequest.encode(allowlistV1.CheckRequest.fromPartial({ ip: '203.0.113.7' })).finish());
  assert.equal((check.requestDeserialize(good) as allowlistV1.CheckRequest).ip, '203.0.113.7');
  const bad = check.requestDeserialize(Buffer.from([0x0d, 0, 0, 0, 0]));
  assert.ok(bad instanceof MalformedRequest);
  assert.match(bad.problem, /field 1 \(ip\) has wire type 32-bit, expected length-delimited/);
});
