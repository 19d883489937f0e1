import { createHash } from 'node:crypto';

/**
 * A deliberately naive RFC 9162 implementation, written straight from the RFC's recursive
 * definitions over the full leaf list, as the oracle the optimised code is tested against.
 */
const sha = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** Largest power of two strictly less than n. */
function k(n: number): number {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}

/** MTH(D[n]) over leaf hashes. */
export function naiveRoot(leafHashes: Uint8Array[]): Buffer {
  const n = leafHashes.length;
  if (n === 0) return sha();
  if (n === 1) return Buffer.from(leafHashes[0] as Uint8Array);
  const s = k(n);
  return sha(Buffer.of(1), naiveRoot(leafHashes.slice(0, s)), naiveRoot(leafHashes.slice(s)));
}

/** PATH(m, D[n]). */
export function naivePath(m: number, leafHashes: Uint8Array[]): Buffer[] {
  const n = leafHashes.length;
  if (n <= 1) return [];
  const s = k(n);
  if (m < s) return [...naivePath(m, leafHashes.slice(0, s)), naiveRoot(leafHashes.slice(s))];
  return [...naivePath(m - s, leafHashes.slice(s)), naiveRoot(leafHashes.slice(0, s))];
}

function subproof(m: number, leafHashes: Uint8Array[], b: boolean): Buffer[] {
  const n = leafHashes.length;
  if (m === n) return b ? [] : [naiveRoot(leafHashes)];
  const s = k(n);
  if (m <= s) return [...subproof(m, leafHashes.slice(0, s), b), naiveRoot(leafHashes.slice(s))];
  return [...subproof(m - s, leafHashes.slice(s), false), naiveRoot(leafHashes.slice(0, s))];
}

/** PROOF(m, D[n]). */
export function naiveConsistency(m: number, leafHashes: Uint8Array[]): Buffer[] {
  if (m === 0) return [];
  return subproof(m, leafHashes, true);
}

/** SHA-256(0x00 || input), computed independently of the library. */
export function naiveLeafHash(input: Uint8Array): Buffer {
  return sha(Buffer.of(0), input);
}
