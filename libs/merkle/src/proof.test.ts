import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compactRangeAt,
  consistencyProof,
  EMPTY_ROOT,
  inclusionProof,
  leafHash,
  perfectNodesToStore,
  rootFromInclusionProof,
  subtreeRoot,
  verifyConsistency,
  verifyInclusion,
} from './index.js';
import { CT_CONSISTENCY, CT_INCLUSION, CT_LEAF_INPUTS, CT_ROOTS } from './test-support/ct-vectors.js';
import { MemoryNodes } from './test-support/memory-nodes.js';
import { naiveConsistency, naivePath, naiveRoot } from './test-support/naive-tree.js';

const ctLeaves = CT_LEAF_INPUTS.map((l) => leafHash(l));
const ctStore = new MemoryNodes(ctLeaves);
const hex = (list: Uint8Array[]): string[] => list.map((h) => Buffer.from(h).toString('hex'));
const root = (n: number): Buffer => CT_ROOTS[n] as Buffer;
const flip = (h: Uint8Array): Buffer => {
  const c = Buffer.from(h);
  c[0] = (c[0] as number) ^ 0x10;
  return c;
};

const MAX = 70;
const leaves = Array.from({ length: MAX }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));
const store = new MemoryNodes(leaves, true);
const roots = Array.from({ length: MAX + 1 }, (_, n) => naiveRoot(leaves.slice(0, n)));

test('CT inclusion vectors: generated and verified', async () => {
  for (const v of CT_INCLUSION) {
    const proof = await inclusionProof(ctStore, v.index, v.size);
    assert.deepEqual(hex(proof), hex(v.proof), `PATH(${v.index}, ${v.size})`);
    assert.equal(verifyInclusion(ctLeaves[v.index] as Buffer, v.index, v.size, v.proof, root(v.size)), true);
  }
});

test('CT consistency vectors: generated and verified', async () => {
  for (const v of CT_CONSISTENCY) {
    const proof = await consistencyProof(ctStore, v.m, v.n);
    assert.deepEqual(hex(proof), hex(v.proof), `PROOF(${v.m}, ${v.n})`);
    assert.equal(verifyConsistency(v.m, v.n, v.proof, root(v.m), root(v.n)), true);
  }
});

test(`every inclusion proof up to ${MAX} leaves equals the naive PATH and verifies`, async () => {
  for (let size = 1; size <= MAX; size++) {
    for (let index = 0; index < size; index++) {
      const proof = await inclusionProof(store, index, size);
      assert.deepEqual(hex(proof), hex(naivePath(index, leaves.slice(0, size))), `PATH(${index}, ${size})`);
      const leaf = leaves[index] as Buffer;
      assert.equal(verifyInclusion(leaf, index, size, proof, roots[size] as Buffer), true, `verify ${index}/${size}`);
    }
  }
});

test(`every consistency proof up to ${MAX} leaves equals the naive PROOF and verifies`, async () => {
  for (let n = 0; n <= MAX; n++) {
    for (let m = 0; m <= n; m++) {
      const proof = await consistencyProof(store, m, n);
      assert.deepEqual(hex(proof), hex(naiveConsistency(m === n ? 0 : m, leaves.slice(0, n))), `PROOF(${m}, ${n})`);
      assert.equal(verifyConsistency(m, n, proof, roots[m] as Buffer, roots[n] as Buffer), true, `verify ${m}->${n}`);
    }
  }
});

test('inclusion proofs fail for a wrong leaf, index, size, root, or a truncated / extended / altered path', async () => {
  for (let size = 1; size <= 40; size++) {
    const r = roots[size] as Buffer;
    for (let index = 0; index < size; index++) {
      const leaf = leaves[index] as Buffer;
      const proof = await inclusionProof(store, index, size);
      const bad: Array<[string, boolean]> = [
        ['wrong leaf', verifyInclusion(leaves[(index + 1) % MAX] as Buffer, index, size, proof, r)],
        ['index - 1', index > 0 && verifyInclusion(leaf, index - 1, size, proof, r)],
        ['index + 1', verifyInclusion(leaf, index + 1, size, proof, r)],
        ['index ^ 2', (index ^ 2) !== index && verifyInclusion(leaf, index ^ 2, size, proof, r)],
        ['size * 2', verifyInclusion(leaf, index, size * 2, proof, r)],
        ['size / 2', size > 1 && verifyInclusion(leaf, index, Math.floor(size / 2), proof, r)],
        ['wrong root', verifyInclusion(leaf, index, size, proof, flip(r))],
        ['empty root', verifyInclusion(leaf, index, size, proof, EMPTY_ROOT)],
        ['truncated path', proof.length > 0 && verifyInclusion(leaf, index, size, proof.slice(0, -1), r)],
        ['trailing root', verifyInclusion(leaf, index, size, [...proof, r], r)],
        ['preceding root', verifyInclusion(leaf, index, size, [r, ...proof], r)],
      ];
      proof.forEach((_, i) => bad.push([`flipped proof[${i}]`, verifyInclusion(leaf, index, size, proof.map((p, j) => (j === i ? flip(p) : p)), r)]));
      for (const [what, ok] of bad) assert.equal(ok, false, `${what} must fail for ${index}/${size}`);
    }
  }
});

test('consistency proofs fail for wrong sizes, wrong or swapped roots, an empty, truncated or altered proof', async () => {
  for (let n = 2; n <= 40; n++) {
    for (let m = 1; m < n; m++) {
      const rm = roots[m] as Buffer;
      const rn = roots[n] as Buffer;
      const proof = await consistencyProof(store, m, n);
      const bad: Array<[string, boolean]> = [
        ['m - 1', m > 1 && verifyConsistency(m - 1, n, proof, rm, rn)],
        ['m + 1', verifyConsistency(m + 1, n, proof, rm, rn)],
        ['n * 2', verifyConsistency(m, n * 2, proof, rm, rn)],
        ['wrong rootM', verifyConsistency(m, n, proof, flip(rm), rn)],
        ['wrong rootN', verifyConsistency(m, n, proof, rm, flip(rn))],
        ['swapped roots', verifyConsistency(m, n, proof, rn, rm)],
        ['empty proof', verifyConsistency(m, n, [], rm, rn)],
        ['truncated proof', verifyConsistency(m, n, proof.slice(0, -1), rm, rn)],
        ['trailing rootN', verifyConsistency(m, n, [...proof, rn], rm, rn)],
        ['preceding rootM', verifyConsistency(m, n, [rm, ...proof], rm, rn)],
      ];
      proof.forEach((_, i) => bad.push([`flipped proof[${i}]`, verifyConsistency(m, n, proof.map((p, j) => (j === i ? flip(p) : p)), rm, rn)]));
      for (const [what, ok] of bad) assert.equal(ok, false, `${what} must fail for ${m}->${n}`);
    }
  }
});

test('verification never throws on malformed input', () => {
  const h = leaves[0] as Buffer;
  const junk: unknown[] = [undefined, null, -1, 1.5, NaN, 2 ** 60, '3', {}, [1, 2], Buffer.alloc(31), [Buffer.alloc(31)]];
  for (const j of junk) {
    const a = j as never;
    assert.equal(verifyInclusion(a, 0, 1, [], h), false);
    assert.equal(verifyInclusion(h, a, 1, [], h), false);
    assert.equal(verifyInclusion(h, 0, a, [], h), false);
    assert.equal(verifyInclusion(h, 0, 1, a, h), false);
    assert.equal(verifyInclusion(h, 0, 1, [], a), false);
    assert.equal(verifyConsistency(a, 2, [h], h, h), false);
    assert.equal(verifyConsistency(1, a, [h], h, h), false);
    assert.equal(verifyConsistency(1, 2, a, h, h), false);
    assert.equal(verifyConsistency(1, 2, [h], a, h), false);
    assert.equal(verifyConsistency(1, 2, [h], h, a), false);
  }
  assert.equal(rootFromInclusionProof(h, 1, 1, []), undefined);
});

test('edge cases of consistency: equal sizes, size 0, time travel', () => {
  const r = roots[5] as Buffer;
  assert.equal(verifyConsistency(5, 5, [], r, r), true);
  assert.equal(verifyConsistency(5, 5, [], r, flip(r)), false);
  assert.equal(verifyConsistency(5, 5, [r], r, r), false);
  assert.equal(verifyConsistency(0, 5, [], EMPTY_ROOT, r), true);
  assert.equal(verifyConsistency(0, 5, [], r, r), false, 'size 0 must claim the empty root');
  assert.equal(verifyConsistency(0, 5, [r], EMPTY_ROOT, r), false);
  assert.equal(verifyConsistency(6, 5, [r], r, r), false);
  assert.equal(verifyInclusion(leaves[0] as Buffer, 0, 0, [], EMPTY_ROOT), false);
});

test('subtreeRoot equals the naive MTH of any range, aligned or not', async () => {
  for (let start = 0; start < 40; start++) {
    for (let end = start; end <= 50; end++) {
      assert.deepEqual(Buffer.from(await subtreeRoot(store, start, end)), naiveRoot(leaves.slice(start, end)), `[${start}, ${end})`);
    }
  }
  await assert.rejects(subtreeRoot(store, 5, 4), RangeError);
});

test('an RFC-shaped range costs one read per set bit of its width', async () => {
  const s = new MemoryNodes(leaves);
  await subtreeRoot(s, 32, 32 + 21); // 21 = 16 + 4 + 1
  assert.equal(s.reads, 3);
});

test('proof generation refuses out-of-range arguments', async () => {
  await assert.rejects(inclusionProof(store, 5, 5), RangeError);
  await assert.rejects(inclusionProof(store, -1, 5), RangeError);
  await assert.rejects(consistencyProof(store, 6, 5), RangeError);
  assert.deepEqual(await consistencyProof(store, 0, 5), []);
  assert.deepEqual(await consistencyProof(store, 5, 5), []);
});

test('perfectNodesToStore reports the same nodes as a full build, reading only left siblings', async () => {
  const s = new MemoryNodes([], true);
  for (const [i, h] of leaves.entries()) {
    const got = await perfectNodesToStore(i, h, s);
    const want: string[] = [];
    s.tree.append(h, (level, index, hash) => want.push(`${level}/${index}/${Buffer.from(hash).toString('hex')}`));
    for (const n of got) s.nodes.set(`${n.level}/${n.index}`, n.hash);
    assert.deepEqual(
      got.map((n) => `${n.level}/${n.index}/${Buffer.from(n.hash).toString('hex')}`),
      want,
      `leaf ${i}`,
    );
  }
});

test('compactRangeAt rebuilds the frontier of any size from stored nodes', async () => {
  for (let size = 0; size <= MAX; size++) {
    const r = await compactRangeAt(store, size);
    assert.equal(r.size, size);
    assert.deepEqual(Buffer.from(r.root()), roots[size], `size ${size}`);
  }
});
