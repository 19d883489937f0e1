import { EMPTY_ROOT, hashEquals, isHash, isTreeIndex, nodeHash } from './hash.js';

function isProof(proof: unknown): proof is readonly Uint8Array[] {
  return Array.isArray(proof) && proof.every(isHash);
}

const half = (x: number): number => Math.floor(x / 2);
const odd = (x: number): boolean => x % 2 === 1;

/**
 * The root implied by an inclusion proof (RFC 9162 §2.1.3.2), or undefined if the proof cannot
 * belong to leaf `index` of a tree of `size` (wrong length, bad input). Useful when the caller
 * compares against several candidate roots.
 */
export function rootFromInclusionProof(leafHash: Uint8Array, index: number, size: number, proof: readonly Uint8Array[]): Uint8Array | undefined {
  if (!isHash(leafHash) || !isTreeIndex(index) || !isTreeIndex(size) || index >= size || !isProof(proof)) return undefined;
  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leafHash;
  for (const p of proof) {
    if (sn === 0) return undefined;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? r : undefined;
}

/**
 * RFC 9162 §2.1.3.2: does `proof` show that `leafHash` is leaf `index` of the tree of `size`
 * leaves with root `root`? Never throws: malformed input is simply false.
 */
export function verifyInclusion(leafHash: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  try {
    const r = rootFromInclusionProof(leafHash, index, size, proof);
    return r !== undefined && isHash(root) && hashEquals(r, root);
  } catch {
    return false;
  }
}

/**
 * RFC 9162 §2.1.4.2: does `proof` show that the tree of `n` leaves (root `rootN`) extends the
 * tree of `m` leaves (root `rootM`)? Equal sizes need an empty proof and equal roots; m = 0
 * needs an empty proof and rootM = EMPTY_ROOT. Never throws: malformed input is simply false.
 */
export function verifyConsistency(m: number, n: number, proof: readonly Uint8Array[], rootM: Uint8Array, rootN: Uint8Array): boolean {
  try {
    if (!isTreeIndex(m) || !isTreeIndex(n) || m > n || !isProof(proof) || !isHash(rootM) || !isHash(rootN)) return false;
    if (m === n) return proof.length === 0 && hashEquals(rootM, rootN);
    if (m === 0) return proof.length === 0 && hashEquals(rootM, EMPTY_ROOT);
    if (proof.length === 0) return false;
    // A power-of-two m is a node of the larger tree; its hash is the implicit first element.
    const path = isPowerOfTwo(m) ? [rootM, ...proof] : proof;
    let fn = m - 1;
    let sn = n - 1;
    while (odd(fn)) {
      fn = half(fn);
      sn = half(sn);
    }
    let fr = path[0] as Uint8Array;
    let sr = fr;
    for (let i = 1; i < path.length; i++) {
      const c = path[i] as Uint8Array;
      if (sn === 0) return false;
      if (odd(fn) || fn === sn) {
        fr = nodeHash(c, fr);
        sr = nodeHash(c, sr);
        if (!odd(fn)) {
          while (!odd(fn) && fn !== 0) {
            fn = half(fn);
            sn = half(sn);
          }
        }
      } else {
        sr = nodeHash(sr, c);
      }
      fn = half(fn);
      sn = half(sn);
    }
    return sn === 0 && hashEquals(fr, rootM) && hashEquals(sr, rootN);
  } catch {
    return false;
  }
}

function isPowerOfTwo(x: number): boolean {
  let p = 1;
  while (p < x) p *= 2;
  return p === x;
}
