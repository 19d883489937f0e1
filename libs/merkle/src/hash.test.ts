import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { EMPTY_ROOT, HASH_SIZE, hashEquals, leafHash, leafHashPrefixed, nodeHash } from './index.js';
import { CT_LEAF_INPUTS, CT_NODES, CT_ROOTS } from './test-support/ct-vectors.js';
import { naiveLeafHash } from './test-support/naive-tree.js';

test('EMPTY_ROOT is SHA-256 of the empty string', () => {
  assert.deepEqual(EMPTY_ROOT, CT_ROOTS[0]);
  assert.equal(EMPTY_ROOT.length, HASH_SIZE);
});

test('leafHash matches the CT leaf hashes (0x00 prefix)', () => {
  CT_LEAF_INPUTS.forEach((input, i) => assert.deepEqual(leafHash(input), CT_NODES[0]?.[i], `leaf ${i}`));
});

test('nodeHash matches the CT level-1 nodes (0x01 prefix)', () => {
  const leaves = CT_NODES[0] ?? [];
  for (let i = 0; i < 4; i++) {
    assert.deepEqual(nodeHash(leaves[2 * i] as Buffer, leaves[2 * i + 1] as Buffer), CT_NODES[1]?.[i], `node 1/${i}`);
  }
});

test('leafHash is correct for large inputs and any byte pattern (scratch buffer reuse)', () => {
  for (const size of [0, 1, 31, 32, 33, 1000, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 100_000]) {
    const input = Buffer.alloc(size, size % 251);
    assert.deepEqual(leafHash(input), naiveLeafHash(input), `size ${size}`);
  }
  // A short input after a long one must not pick up stale scratch bytes.
  leafHash(Buffer.alloc(5000, 7));
  assert.deepEqual(leafHash(Buffer.of(1, 2)), naiveLeafHash(Buffer.of(1, 2)));
});

test('leafHashPrefixed hashes input that already carries the 0x00 prefix, and refuses one without', () => {
  const input = Buffer.from('hello');
  assert.deepEqual(leafHashPrefixed(Buffer.concat([Buffer.of(0), input])), leafHash(input));
  assert.throws(() => leafHashPrefixed(Buffer.from('hello')), RangeError);
});

test('nodeHash of non-32-byte children still hashes 0x01 || left || right', () => {
  const l = Buffer.from('left');
  const r = Buffer.from('right side');
  const want = createHash('sha256').update(Buffer.of(1)).update(l).update(r).digest();
  assert.deepEqual(nodeHash(l, r), want);
});

test('hashEquals compares bytes', () => {
  assert.equal(hashEquals(Buffer.of(1, 2), Uint8Array.of(1, 2)), true);
  assert.equal(hashEquals(Buffer.of(1, 2), Uint8Array.of(1, 3)), false);
  assert.equal(hashEquals(Buffer.of(1, 2), Uint8Array.of(1)), false);
});
