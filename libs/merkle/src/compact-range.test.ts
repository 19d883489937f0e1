import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompactRange, EMPTY_ROOT, leafHash } from './index.js';
import { CT_LEAF_INPUTS, CT_NODES, CT_ROOTS } from './test-support/ct-vectors.js';
import { naiveRoot } from './test-support/naive-tree.js';

const ctLeaves = CT_LEAF_INPUTS.map((l) => leafHash(l));
const node = (level: number, index: number): Buffer => CT_NODES[level]?.[index] as Buffer;

test('root after each append matches the CT roots for sizes 0..8', () => {
  const r = CompactRange.empty();
  assert.deepEqual(r.root(), EMPTY_ROOT);
  ctLeaves.forEach((h, i) => {
    r.append(h);
    assert.equal(r.size, i + 1);
    assert.deepEqual(Buffer.from(r.root()), CT_ROOTS[i + 1], `size ${i + 1}`);
  });
});

test('subtrees() are the largest perfect subtrees, highest first (transparency-dev CompactTrees)', () => {
  const want: Buffer[][] = [
    [],
    [node(0, 0)],
    [node(1, 0)],
    [node(1, 0), node(0, 2)],
    [node(2, 0)],
    [node(2, 0), node(0, 4)],
    [node(2, 0), node(1, 2)],
    [node(2, 0), node(1, 2), node(0, 6)],
    [node(3, 0)],
  ];
  const r = CompactRange.empty();
  for (let size = 0; size <= 8; size++) {
    assert.deepEqual(r.subtrees().map((h) => Buffer.from(h)), want[size], `size ${size}`);
    if (size < 8) r.append(ctLeaves[size] as Buffer);
  }
});

test('append reports every perfect node it completes, at the right level and index', () => {
  const seen: string[] = [];
  const r = CompactRange.empty();
  for (const h of ctLeaves) {
    r.append(h, (level, index, hash) => {
      assert.deepEqual(Buffer.from(hash), node(level, index), `node ${level}/${index}`);
      seen.push(`${level}/${index}`);
    });
  }
  assert.deepEqual(seen, ['0/0', '0/1', '1/0', '0/2', '0/3', '1/1', '2/0', '0/4', '0/5', '1/2', '0/6', '0/7', '1/3', '2/1', '3/0']);
});

test('fromSubtrees continues from any prefix to the same roots as a full build', () => {
  const leaves = Array.from({ length: 70 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
  const full = CompactRange.empty();
  const prefixes: CompactRange[] = [];
  for (const h of leaves) {
    prefixes.push(full.clone());
    full.append(h);
  }
  for (let from = 0; from < leaves.length; from += 3) {
    const start = prefixes[from] as CompactRange;
    const r = CompactRange.fromSubtrees(from, start.subtrees());
    for (let i = from; i < leaves.length; i++) r.append(leaves[i] as Buffer);
    assert.deepEqual(Buffer.from(r.root()), naiveRoot(leaves), `from ${from}`);
  }
});

test('clone is independent of the original', () => {
  const a = CompactRange.empty();
  a.append(ctLeaves[0] as Buffer);
  const b = a.clone();
  b.append(ctLeaves[1] as Buffer);
  assert.equal(a.size, 1);
  assert.deepEqual(Buffer.from(a.root()), CT_ROOTS[1]);
  assert.deepEqual(Buffer.from(b.root()), CT_ROOTS[2]);
});

test('fromSubtrees refuses a wrong number or length of hashes and a bad size', () => {
  const h = ctLeaves[0] as Buffer;
  assert.throws(() => CompactRange.fromSubtrees(3, [h]), /3 leaves has 2 perfect subtrees, got 1/);
  assert.throws(() => CompactRange.fromSubtrees(0, [h]), RangeError);
  assert.throws(() => CompactRange.fromSubtrees(1, [h.subarray(0, 31)]), /not 32 bytes/);
  assert.throws(() => CompactRange.fromSubtrees(-1, []), RangeError);
  assert.throws(() => CompactRange.fromSubtrees(1.5, []), RangeError);
  // Sizes beyond 2^32 count their bits correctly (no 32-bit bit operations).
  const big = 2 ** 40 + 2 ** 33 + 1;
  assert.equal(CompactRange.fromSubtrees(big, [h, h, h]).size, big);
});
