import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { auditEventV1, auditV1 } from '@gatehouse/contracts';
import { leafHash } from '@gatehouse/merkle';
import { EntryChecker, exportLine } from './index.js';
import { syntheticEntry, syntheticEvent } from './test-support/synthetic-log.js';

/** An entry line for arbitrary LeafData, encoded exactly as the service would. */
function lineFor(leaf: auditV1.LeafData): string {
  return lineForBytes(Buffer.from(auditV1.LeafData.encode(leaf).finish()));
}

/** An entry line whose JSON is the generated toJSON of whatever `leafInput` decodes to. */
function lineForBytes(leafInput: Buffer): string {
  const leaf = auditV1.LeafData.decode(leafInput);
  return exportLine({ entry: { sequence: leaf.sequence, event: leaf.event, appendedAt: leaf.appendedAt, submittedBy: leaf.submittedBy, leafInput, leafHash: leafHash(leafInput) } });
}

const base = syntheticEvent(5);
const at = new Date(Date.UTC(2025, 5, 6, 7, 8, 9, 10));

/** Leaves that stress the JSON rendering: escapes, non-ASCII, defaults, odd enums and maps. */
const TRICKY: Array<[string, auditV1.LeafData]> = [
  ['typical', { sequence: 5, appendedAt: at, submittedBy: 'service:identity', event: base }],
  ['sequence 0', { sequence: 0, appendedAt: at, submittedBy: 'service:identity', event: base }],
  ['large sequence', { sequence: 2 ** 40 + 3, appendedAt: at, submittedBy: 'backend:shop', event: base }],
  ['escapes', { sequence: 6, appendedAt: at, submittedBy: 'a"b\\c\nd\te\u0001f\u007f', event: { ...base, requestId: '</script>\u2028' } }],
  ['non-ASCII and surrogate pairs', { sequence: 7, appendedAt: at, submittedBy: 'opérateur', event: { ...base, actor: { kind: 1, id: '😀', displayName: '東京' } } }],
  ['empty strings and zero enums', { sequence: 8, appendedAt: at, submittedBy: '', event: { ...base, service: 0, action: 0, outcome: 0, environment: 0, customerDomain: '', sourceIp: '' } }],
  ['no event', { sequence: 9, appendedAt: at, submittedBy: 'service:audit', event: undefined }],
  ['no appended_at', { sequence: 10, appendedAt: undefined, submittedBy: 'service:audit', event: base }],
  ['empty event', { sequence: 11, appendedAt: at, submittedBy: 'x', event: auditEventV1.AuditEvent.fromPartial({}) }],
  ['empty actor and subject', { sequence: 12, appendedAt: at, submittedBy: 'x', event: { ...base, actor: { kind: 0, id: '', displayName: '' }, subject: { kind: 0, id: '', displayName: '' } } }],
  ['unknown enum values', { sequence: 13, appendedAt: at, submittedBy: 'x', event: { ...base, service: 99 as auditEventV1.Service, action: 4000 as auditEventV1.Action } }],
  ['integer-like map keys', { sequence: 14, appendedAt: at, submittedBy: 'x', event: { ...base, details: { b: '1', '10': 'x', a: '2', '2': 'y' } } }],
  ['empty map key and value', { sequence: 15, appendedAt: at, submittedBy: 'x', event: { ...base, details: { '': '' }, hashedDetails: { k: '' } } }],
  ['timestamp before 1970', { sequence: 16, appendedAt: new Date(-86_400_123), submittedBy: 'x', event: { ...base, occurredAt: new Date(0) } }],
  ['many details', { sequence: 17, appendedAt: at, submittedBy: 'x', event: { ...base, details: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, `v${i}`])) } }],
];

test('canonical lines of tricky leaves pass both paths, and almost all take the fast one', () => {
  const fast = new EntryChecker();
  const slow = new EntryChecker({ fastPath: false });
  const slowOnes: string[] = [];
  for (const [name, leaf] of TRICKY) {
    const line = lineFor(leaf);
    const before = fast.slowPathCount;
    assert.equal(fast.check(line), 'ok', `${name}: ${fast.problem}`);
    assert.equal(fast.leafSequence, leaf.sequence, name);
    assert.equal(slow.check(line), 'ok', `${name} (general path): ${slow.problem}`);
    assert.deepEqual(Buffer.from(fast.leafHash), Buffer.from(slow.leafHash), name);
    if (fast.slowPathCount > before) slowOnes.push(name);
  }
  // Integer-like keys are reordered by JavaScript objects, negative seconds are int64 varints of
  // ten bytes: both are left to the general path on purpose.
  assert.deepEqual(slowOnes, ['integer-like map keys', 'timestamp before 1970']);
});

test('sub-millisecond nanos and odd-but-valid protobuf (fields out of order, unknown fields) are judged like the generated decoder', () => {
  const checker = new EntryChecker();
  const ts = new BinaryWriter().uint32(8).int64(1_700_000_000).uint32(16).int32(123_456_789).finish();
  const event = auditEventV1.AuditEvent.encode(base).finish();
  const variants: Array<[string, Buffer]> = [
    ['nanos', Buffer.from(new BinaryWriter().uint32(8).uint64(3).uint32(18).bytes(ts).uint32(34).bytes(event).finish())],
    ['field order 4,1', Buffer.from(new BinaryWriter().uint32(34).bytes(event).uint32(8).uint64(3).finish())],
    ['unknown field 9', Buffer.from(new BinaryWriter().uint32(8).uint64(3).uint32(74).string('??').uint32(34).bytes(event).finish())],
    ['repeated sequence', Buffer.from(new BinaryWriter().uint32(8).uint64(3).uint32(8).uint64(4).finish())],
    ['duplicate map key', Buffer.from(new BinaryWriter().uint32(34).bytes(new BinaryWriter().uint32(98).bytes(new BinaryWriter().uint32(10).string('a').uint32(18).string('1').finish()).uint32(98).bytes(new BinaryWriter().uint32(10).string('a').uint32(18).string('2').finish()).finish()).finish())],
  ];
  for (const [name, bytes] of variants) {
    const line = lineForBytes(bytes);
    assert.equal(checker.check(line), 'ok', `${name}: ${checker.problem}`);
    assert.equal(checker.leafSequence, auditV1.LeafData.decode(bytes).sequence, name);
  }
});

test('timestamps of any millisecond from 1970 to 9999 are rendered like Date.toISOString (fast path)', () => {
  const checker = new EntryChecker();
  const rand = prng(99);
  const instants = [0, 1, 951_782_400_000 /* 2000-02-29 */, 4_107_542_400_000 /* 2100-03-01 */, 253_402_300_799_999 /* 9999-12-31T23:59:59.999 */];
  for (let i = 0; i < 3000; i++) instants.push(Math.floor(rand() * 253_402_300_800_000));
  for (const [i, ms] of instants.entries()) {
    // Sub-millisecond nanos too: the generated code truncates them, and so must the rendering.
    const seconds = Math.floor(ms / 1000);
    const nanos = (ms % 1000) * 1_000_000 + (i % 3) * 333_333;
    const ts = new BinaryWriter().uint32(8).int64(seconds).uint32(16).int32(nanos).finish();
    const bytes = Buffer.from(new BinaryWriter().uint32(8).uint64(i + 1).uint32(18).bytes(ts).uint32(34).bytes(auditEventV1.AuditEvent.encode({ ...base, occurredAt: new Date(ms) }).finish()).finish());
    const line = lineForBytes(bytes);
    assert.equal(checker.check(line), 'ok', `${ms}: ${checker.problem}`);
  }
  assert.equal(checker.slowPathCount, 0);
  // Beyond year 9999 toISOString writes six-digit years; that is rendered too.
  const far = lineFor({ sequence: 1, appendedAt: new Date(Date.UTC(20000, 0, 1)), submittedBy: 'x', event: base });
  assert.equal(checker.check(far), 'ok', checker.problem);
});

test('equivalent but non-canonical JSON is accepted by the general path', () => {
  const checker = new EntryChecker();
  const entry = syntheticEntry(42);
  const j = JSON.parse(exportLine({ entry })) as { entry: Record<string, unknown> };
  const reversed = Object.fromEntries(Object.entries(j.entry).reverse());
  for (const line of [JSON.stringify({ entry: reversed }), JSON.stringify(j, null, 1).replace(/\n/g, ' ')]) {
    assert.equal(checker.check(line), 'ok', checker.problem);
    assert.equal(checker.leafSequence, 42);
  }
  assert.equal(checker.slowPathCount, 2);
});

test('edits are told apart from malformed lines', () => {
  const checker = new EntryChecker();
  const line = exportLine({ entry: syntheticEntry(42) });
  assert.equal(checker.check(line.replace('"SERVICE_', '"SERVICEX_')), 'inconsistent');
  assert.match(checker.problem, /event\.service/);
  assert.equal(checker.check(line.replace('"sequence":42', '"sequence":"42"')), 'inconsistent');
  assert.equal(checker.check(line.slice(0, -1)), 'malformed');
  assert.equal(checker.check('{"entry":[]}'), 'malformed');
  assert.equal(checker.check('{"entry":{"sequence":1}}'), 'inconsistent');
  assert.match(checker.problem, /leaf_input is missing/);
  assert.equal(checker.check(JSON.stringify({ entry: { sequence: 1, leafInput: Buffer.from([0xff, 0xff, 0xff]).toString('base64') } })), 'inconsistent');
  assert.match(checker.problem, /not a LeafData/);
});

/** A small deterministic PRNG, so a failure reproduces. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('fuzz: the fast path never accepts a line the general path rejects', () => {
  const rand = prng(20250102);
  const fast = new EntryChecker();
  const slow = new EntryChecker({ fastPath: false });
  const alphabet = '"{}[],:0123456789abcdefAZ_\\ é+/=.-';
  const lines = [...TRICKY.map(([, leaf]) => lineFor(leaf)), ...Array.from({ length: 60 }, (_, i) => exportLine({ entry: syntheticEntry(i * 37) }))];
  let mutations = 0;
  let fastAccepted = 0;
  for (const line of lines) {
    for (let k = 0; k < 150; k++) {
      const i = Math.floor(rand() * line.length);
      const c = alphabet[Math.floor(rand() * alphabet.length)] as string;
      if (line[i] === c) continue;
      const mutated = line.slice(0, i) + c + line.slice(i + 1);
      mutations++;
      const before = fast.slowPathCount;
      const a = fast.check(mutated);
      const b = slow.check(mutated);
      assert.equal(a, b, `mutation at ${i} to ${c} of ${line}`);
      if (fast.slowPathCount === before) {
        fastAccepted++;
        assert.equal(b, 'ok', `fast path accepted a bad line: ${mutated}`);
      }
      // The byte-level entry point (file chunks) must judge exactly the same.
      const bytes = Buffer.from(`xx${mutated}yy`);
      assert.equal(fast.checkBytes(bytes, 2, bytes.length - 2), a, `bytes: mutation at ${i} to ${c}`);
    }
  }
  assert.ok(mutations > 10_000);
  // Mutations inside base64 padding-insensitive spots may be harmless; nothing else may pass.
  assert.ok(fastAccepted < mutations / 100, `${fastAccepted} of ${mutations} mutations accepted by the fast path`);
});
