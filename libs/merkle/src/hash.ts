import { Buffer } from 'node:buffer';
import { createHash, hash } from 'node:crypto';

/** Size in bytes of every hash in the tree (SHA-256). */
export const HASH_SIZE = 32;

/**
 * Root hash of the empty tree, SHA-256 of the empty string (RFC 9162 §2.1.1). Shared, so never
 * mutate it.
 */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

// Inputs up to this size are hashed through a reusable scratch buffer with the one-shot
// crypto.hash: no Hash object, no prefix copy into a fresh buffer. Hashing is synchronous, so one
// scratch buffer is safe. The digest is taken as a 'binary' (latin1) string and turned into a Buffer: on
// Node 20 that is about three times faster than crypto.hash's own 'buffer' output.
const SCRATCH_LIMIT = 16 * 1024;
const leafScratch = Buffer.allocUnsafe(SCRATCH_LIMIT + 1);
const nodeScratch = Buffer.allocUnsafe(1 + 2 * HASH_SIZE);
nodeScratch[0] = 0x01;

function sha256(data: Uint8Array): Buffer {
  return Buffer.from(hash('sha256', data, 'binary'), 'binary');
}

/** RFC 9162 leaf hash SHA-256(0x00 || input): the hash a log entry contributes to the tree. */
export function leafHash(input: Uint8Array): Buffer {
  const n = input.length;
  if (n > SCRATCH_LIMIT) return createHash('sha256').update(Buffer.of(0x00)).update(input).digest();
  leafScratch[0] = 0x00;
  leafScratch.set(input, 1);
  return sha256(leafScratch.subarray(0, n + 1));
}

/**
 * Leaf hash of input that already starts with the 0x00 leaf prefix. Lets a streaming verifier
 * decode a leaf straight into a buffer with a reserved first byte and hash it without a copy.
 */
export function leafHashPrefixed(prefixedInput: Uint8Array): Buffer {
  if (prefixedInput[0] !== 0x00) throw new RangeError('leafHashPrefixed: input must start with the 0x00 leaf prefix');
  return sha256(prefixedInput);
}

/** RFC 9162 interior node hash SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    return createHash('sha256').update(Buffer.of(0x01)).update(left).update(right).digest();
  }
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_SIZE);
  return sha256(nodeScratch);
}

/** Byte equality of two hashes (public data: no constant-time need). */
export function hashEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** True for a 32-byte hash. */
export function isHash(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array && x.length === HASH_SIZE;
}

/** True for a tree size or leaf index: a non-negative safe integer. */
export function isTreeIndex(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** Number of set bits of a safe integer (sizes above 2^32 break 32-bit bit operations). */
export function popCount(n: number): number {
  let count = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) count += x % 2;
  return count;
}

/** Largest power of two strictly below n (n ≥ 2): RFC 9162's split point k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
