import { EMPTY_ROOT, isHash, isTreeIndex, nodeHash, popCount } from './hash.js';

/** Called for each perfect node an append completes: level 0 is the leaf itself. */
export type CompletedNodeVisitor = (level: number, index: number, hash: Uint8Array) => void;

/**
 * The right edge ("frontier") of an append-only RFC 9162 tree: the hashes of its largest perfect
 * subtrees, left to right, one per set bit of the size. O(log n) state is all it takes to append
 * leaves and compute the root, so a verifier can stream a million entries without keeping them,
 * and a log can resume from the stored perfect nodes at any size.
 *
 * Hashes are kept by reference: do not mutate a buffer after handing it over.
 */
export class CompactRange {
  private count: number;
  private readonly hashes: Uint8Array[];

  private constructor(size: number, hashes: Uint8Array[]) {
    this.count = size;
    this.hashes = hashes;
  }

  /** An empty tree. */
  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  /**
   * Continues from a prefix of `size` leaves given its perfect subtree hashes, highest first
   * (ExportHeader.prefix_subtree_hashes). Throws RangeError if their number or length is wrong.
   */
  static fromSubtrees(size: number, hashes: readonly Uint8Array[]): CompactRange {
    if (!isTreeIndex(size)) throw new RangeError(`compact range: size ${String(size)} is not a non-negative safe integer`);
    const want = popCount(size);
    if (hashes.length !== want) {
      throw new RangeError(`compact range: a tree of ${size} leaves has ${want} perfect subtrees, got ${hashes.length} hashes`);
    }
    for (const [i, h] of hashes.entries()) {
      if (!isHash(h)) throw new RangeError(`compact range: subtree hash ${i} is not 32 bytes`);
    }
    return new CompactRange(size, [...hashes]);
  }

  /** Number of leaves appended so far (including the prefix). */
  get size(): number {
    return this.count;
  }

  /**
   * Appends a leaf hash. `onCompleted`, if given, sees every perfect node this append completes
   * (the leaf at level 0, then each merged parent), which is exactly what a store must persist
   * to serve proofs later.
   */
  append(leafHash: Uint8Array, onCompleted?: CompletedNodeVisitor): void {
    let h = leafHash;
    let index = this.count;
    let level = 0;
    onCompleted?.(0, index, h);
    // Each trailing 1 bit of the old size is a left sibling waiting on the frontier.
    while (index % 2 === 1) {
      const left = this.hashes.pop() as Uint8Array;
      h = nodeHash(left, h);
      index = (index - 1) / 2;
      level++;
      onCompleted?.(level, index, h);
    }
    this.hashes.push(h);
    this.count++;
  }

  /** RFC 9162 root hash of the leaves so far (EMPTY_ROOT for none): a right fold of the subtrees. */
  root(): Uint8Array {
    const n = this.hashes.length;
    if (n === 0) return EMPTY_ROOT;
    let acc = this.hashes[n - 1] as Uint8Array;
    for (let i = n - 2; i >= 0; i--) acc = nodeHash(this.hashes[i] as Uint8Array, acc);
    return acc;
  }

  /** The perfect subtree hashes, highest first: what an export's prefix_subtree_hashes holds. */
  subtrees(): Uint8Array[] {
    return [...this.hashes];
  }

  /** An independent copy, to advance speculatively (e.g. inside a transaction that may abort). */
  clone(): CompactRange {
    return new CompactRange(this.count, [...this.hashes]);
  }
}
