import { CompactRange } from './compact-range.js';
import { EMPTY_ROOT, isTreeIndex, nodeHash, splitPoint } from './hash.js';

/**
 * Read access to a log's stored perfect nodes. `perfectNode(level, index)` is the hash of the
 * perfect subtree over leaves [index·2^level, (index+1)·2^level); level 0 is the leaf hashes.
 * A log that persists every completed perfect node (see `perfectNodesToStore`) can serve any
 * root or proof with O(log n) reads.
 */
export interface NodeReader {
  perfectNode(level: number, index: number): Promise<Uint8Array> | Uint8Array;
}

/** A perfect node that became complete and must be persisted. */
export interface CompletedNode {
  level: number;
  index: number;
  hash: Uint8Array;
}

/** A half-open leaf range [start, end) whose RFC MTH is one element of a proof. */
type Range = readonly [start: number, end: number];

function assertIndex(name: string, n: number): void {
  if (!isTreeIndex(n)) throw new RangeError(`${name} ${String(n)} is not a non-negative safe integer`);
}

/** Smallest power of two ≥ n (n ≥ 1). */
function ceilPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * RFC 9162 MTH of leaves [start, end), read from stored perfect nodes. Ranges that arise in the
 * RFC recursion (start a multiple of the smallest power of two ≥ the width) cost one read per
 * set bit of the width, fetched concurrently; any other range is split as MTH defines it.
 */
export async function subtreeRoot(reader: NodeReader, start: number, end: number): Promise<Uint8Array> {
  assertIndex('start', start);
  assertIndex('end', end);
  if (end < start) throw new RangeError(`subtree [${start}, ${end}) is inverted`);
  const n = end - start;
  if (n === 0) return EMPTY_ROOT;
  if (start % ceilPow2(n) !== 0) {
    const k = n === 1 ? 1 : splitPoint(n);
    const [left, right] = await Promise.all([subtreeRoot(reader, start, start + k), subtreeRoot(reader, start + k, end)]);
    return nodeHash(left, right);
  }
  // Aligned: the perfect nodes of the width's set bits, highest first, folded from the right.
  const reads: Array<Promise<Uint8Array> | Uint8Array> = [];
  let offset = start;
  for (let width = ceilPow2(n), level = Math.log2(width); width >= 1; width /= 2, level--) {
    if (end - offset >= width) {
      reads.push(reader.perfectNode(level, offset / width));
      offset += width;
    }
  }
  const nodes = await Promise.all(reads);
  let acc = nodes[nodes.length - 1] as Uint8Array;
  for (let i = nodes.length - 2; i >= 0; i--) acc = nodeHash(nodes[i] as Uint8Array, acc);
  return acc;
}

/** The ranges of RFC 9162 §2.1.3.1 PATH(index, D[0:size]), leaf first. */
function inclusionRanges(index: number, size: number): Range[] {
  const out: Range[] = [];
  let start = 0;
  let end = size;
  // Walk down from the root, collecting the sibling of each step; reverse at the end.
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (index < start + k) {
      out.push([start + k, end]);
      end = start + k;
    } else {
      out.push([start, start + k]);
      start += k;
    }
  }
  return out.reverse();
}

/** The ranges of RFC 9162 §2.1.4.1 PROOF(m, D[0:n]) = SUBPROOF(m, D[n], true). */
function consistencyRanges(m: number, n: number): Range[] {
  const out: Range[] = [];
  let start = 0;
  let end = n;
  let mm = m;
  let complete = true;
  while (mm !== end - start) {
    const k = splitPoint(end - start);
    if (mm <= k) {
      out.push([start + k, end]);
      end = start + k;
    } else {
      out.push([start, start + k]);
      start += k;
      mm -= k;
      complete = false;
    }
  }
  if (!complete) out.push([start, end]);
  return out.reverse();
}

/**
 * RFC 9162 §2.1.3.1 inclusion proof (audit path) of leaf `index` in the tree of `size` leaves,
 * sibling nearest the leaf first. Throws RangeError unless index < size.
 */
export async function inclusionProof(reader: NodeReader, index: number, size: number): Promise<Uint8Array[]> {
  assertIndex('index', index);
  assertIndex('size', size);
  if (index >= size) throw new RangeError(`leaf index ${index} is not below the tree size ${size}`);
  return Promise.all(inclusionRanges(index, size).map(([s, e]) => subtreeRoot(reader, s, e)));
}

/**
 * RFC 9162 §2.1.4.1 consistency proof that the tree of `n` leaves extends the tree of `m`.
 * Empty when m is 0 or m equals n. Throws RangeError unless m ≤ n.
 */
export async function consistencyProof(reader: NodeReader, m: number, n: number): Promise<Uint8Array[]> {
  assertIndex('first size', m);
  assertIndex('second size', n);
  if (m > n) throw new RangeError(`first size ${m} exceeds second size ${n}`);
  if (m === 0 || m === n) return [];
  return Promise.all(consistencyRanges(m, n).map(([s, e]) => subtreeRoot(reader, s, e)));
}

/**
 * The perfect nodes that become complete when the leaf at `newLeafIndex` is appended: the leaf
 * itself (level 0) and each parent it finishes. Reads the left siblings from the store; a log
 * that keeps a CompactRange in memory can use its `append` visitor instead and read nothing.
 */
export async function perfectNodesToStore(newLeafIndex: number, leafHash: Uint8Array, reader: NodeReader): Promise<CompletedNode[]> {
  assertIndex('leaf index', newLeafIndex);
  const out: CompletedNode[] = [{ level: 0, index: newLeafIndex, hash: leafHash }];
  let h = leafHash;
  let index = newLeafIndex;
  let level = 0;
  while (index % 2 === 1) {
    h = nodeHash(await reader.perfectNode(level, index - 1), h);
    index = (index - 1) / 2;
    level++;
    out.push({ level, index, hash: h });
  }
  return out;
}

/**
 * The CompactRange of the first `size` leaves, from stored perfect nodes (one read per set bit of
 * size). Its `subtrees()` are the prefix_subtree_hashes of an export starting at `size`; its
 * `root()` is the root at that size.
 */
export async function compactRangeAt(reader: NodeReader, size: number): Promise<CompactRange> {
  assertIndex('size', size);
  const reads: Array<Promise<Uint8Array> | Uint8Array> = [];
  let offset = 0;
  for (let width = ceilPow2(size + 1), level = Math.log2(width); width >= 1; width /= 2, level--) {
    if (size - offset >= width) {
      reads.push(reader.perfectNode(level, offset / width));
      offset += width;
    }
  }
  return CompactRange.fromSubtrees(size, await Promise.all(reads));
}
