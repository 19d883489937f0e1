import { createHash, randomBytes } from 'node:crypto';
import { InvalidArgumentError, base32Decode, base32Encode, type RandomSource } from '@gatehouse/core';

/**
 * Shamir secret sharing (Shamir 1979) over GF(2^8) with the AES polynomial x^8+x^4+x^3+x+1
 * (0x11b), byte by byte: each byte of the secret is the constant term of its own random
 * polynomial of degree k-1, and share i holds every polynomial evaluated at x = i. Any k shares
 * give the secret back by Lagrange interpolation at x = 0; k-1 shares are uniformly distributed
 * whatever the secret, so they tell nothing about it.
 *
 * The field arithmetic is branch-free and table-free (no secret-dependent memory access or
 * branch), so reconstructing a master key leaks nothing through timing or the cache.
 */

/** Smallest threshold: one share alone must never be the secret. */
export const MIN_THRESHOLD = 2;
/** Most shares a secret may be split into (the contract's share_count maximum). */
export const MAX_SHARES = 16;
/** Largest secret split here (the unseal key is 32 bytes). */
export const MAX_SECRET_BYTES = 1024;
/** Version of the text form `ghs1-…`. */
export const SHARE_FORMAT_VERSION = 1;

const SHARE_PREFIX = `ghs${SHARE_FORMAT_VERSION}`;
const CHECKSUM_BYTES = 5; // 40 bits: a typo slips through once in 10^12
const CHECKSUM_LABEL = 'gatehouse/secrets/share-checksum\0';
const MAX_SHARE_TEXT = 64 + Math.ceil((MAX_SECRET_BYTES * 8) / 5);
const REDACTED = '[share payload]';

/** The CSPRNG of node:crypto. */
const cryptoRandom: RandomSource = { bytes: (n) => randomBytes(n) };

/** Multiplication in GF(2^8) mod 0x11b, in constant time (8 rounds of shift-and-add, masks instead of branches). */
export function gfMul(a: number, b: number): number {
  let x = a & 0xff;
  let y = b & 0xff;
  let product = 0;
  for (let i = 0; i < 8; i++) {
    product ^= x & -(y & 1);
    x = ((x << 1) ^ (0x1b & -((x >> 7) & 1))) & 0xff;
    y >>= 1;
  }
  return product;
}

/** Multiplicative inverse a^254 (Fermat: a^255 = 1), in constant time; 0 maps to 0. */
export function gfInverse(a: number): number {
  const a2 = gfMul(a, a);
  const a4 = gfMul(a2, a2);
  const a8 = gfMul(a4, a4);
  const a16 = gfMul(a8, a8);
  const a32 = gfMul(a16, a16);
  const a64 = gfMul(a32, a32);
  const a128 = gfMul(a64, a64);
  // 254 = 128 + 64 + 32 + 16 + 8 + 4 + 2
  return gfMul(gfMul(gfMul(gfMul(gfMul(gfMul(a2, a4), a8), a16), a32), a64), a128);
}

/**
 * One share: the x coordinate (`index`, 1 to 16), the threshold k it belongs to and the y bytes.
 * The payload is secret material: JSON, String() and util.inspect never show it.
 */
export class Share {
  readonly #payload: Uint8Array;
  readonly threshold: number;
  readonly index: number;

  constructor(threshold: number, index: number, payload: Uint8Array, field = 'share') {
    if (!Number.isInteger(threshold) || threshold < MIN_THRESHOLD || threshold > MAX_SHARES) {
      throw new InvalidArgumentError(field, `threshold must be between ${MIN_THRESHOLD} and ${MAX_SHARES}`);
    }
    if (!Number.isInteger(index) || index < 1 || index > MAX_SHARES) {
      throw new InvalidArgumentError(field, `share index must be between 1 and ${MAX_SHARES}`);
    }
    if (!(payload instanceof Uint8Array) || payload.length === 0 || payload.length > MAX_SECRET_BYTES) {
      throw new InvalidArgumentError(field, `payload must be 1 to ${MAX_SECRET_BYTES} bytes`);
    }
    this.threshold = threshold;
    this.index = index;
    this.#payload = Uint8Array.from(payload);
  }

  /** A copy of the y bytes (secret: wipe it after use). */
  get payload(): Uint8Array {
    return Uint8Array.from(this.#payload);
  }

  /** Number of bytes of the secret this share belongs to. */
  get length(): number {
    return this.#payload.length;
  }

  /** Overwrites the payload with zeros. */
  wipe(): void {
    this.#payload.fill(0);
  }

  toJSON(): { threshold: number; index: number; payload: string } {
    return { threshold: this.threshold, index: this.index, payload: REDACTED };
  }

  toString(): string {
    return `share ${this.index} (threshold ${this.threshold}) ${REDACTED}`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Share { threshold: ${this.threshold}, index: ${this.index}, payload: ${REDACTED} }`;
  }
}

/** Checks 2 ≤ k ≤ n ≤ 16; the messages name the contract's fields (threshold, share_count). */
export function checkSplitParameters(threshold: number, shareCount: number): void {
  if (!Number.isInteger(shareCount) || shareCount < MIN_THRESHOLD || shareCount > MAX_SHARES) {
    throw new InvalidArgumentError('share_count', `must be an integer between ${MIN_THRESHOLD} and ${MAX_SHARES}`);
  }
  if (!Number.isInteger(threshold) || threshold < MIN_THRESHOLD || threshold > shareCount) {
    throw new InvalidArgumentError('threshold', `must be an integer between ${MIN_THRESHOLD} and share_count (${shareCount})`);
  }
}

/**
 * Splits `secret` into `shareCount` shares, any `threshold` of which reconstruct it. The
 * coefficients come from `random` (a CSPRNG in production: predictable coefficients give the
 * secret away) and are wiped before returning.
 */
export function split(secret: Uint8Array, threshold: number, shareCount: number, random: RandomSource = cryptoRandom): Share[] {
  if (!(secret instanceof Uint8Array) || secret.length === 0 || secret.length > MAX_SECRET_BYTES) {
    throw new InvalidArgumentError('secret', `must be 1 to ${MAX_SECRET_BYTES} bytes`);
  }
  checkSplitParameters(threshold, shareCount);
  const degree = threshold - 1;
  const coefficients = random.bytes(degree * secret.length);
  if (coefficients.length !== degree * secret.length) {
    throw new Error(`random source returned ${coefficients.length} bytes, wanted ${degree * secret.length}`);
  }
  const payloads = Array.from({ length: shareCount }, () => new Uint8Array(secret.length));
  try {
    for (let b = 0; b < secret.length; b++) {
      // Polynomial of byte b: secret[b] + c[b*degree]·x + … + c[b*degree + degree-1]·x^degree.
      for (let s = 0; s < shareCount; s++) {
        const x = s + 1;
        let y = 0;
        for (let j = degree - 1; j >= 0; j--) y = gfMul(y, x) ^ (coefficients[b * degree + j] as number);
        (payloads[s] as Uint8Array)[b] = gfMul(y, x) ^ (secret[b] as number);
      }
    }
    return payloads.map((p, s) => new Share(threshold, s + 1, p));
  } finally {
    coefficients.fill(0);
    for (const p of payloads) p.fill(0);
  }
}

/**
 * Reconstructs the secret from at least `threshold` shares of one split (Lagrange interpolation
 * at x = 0). Refuses, as INVALID_ARGUMENT on `field`: no shares, too few, duplicate indexes, or
 * shares that cannot come from one split (thresholds or lengths differ). Shares of another split
 * with the same threshold and length give a wrong value: the caller checks it (key check value).
 * The caller wipes the result.
 */
export function combine(shares: readonly Share[], field = 'shares'): Uint8Array {
  const first = shares[0];
  if (first === undefined) throw new InvalidArgumentError(field, 'no shares given');
  for (const s of shares) {
    if (!(s instanceof Share)) throw new InvalidArgumentError(field, 'every share must be a decoded share');
    if (s.threshold !== first.threshold) throw new InvalidArgumentError(field, 'the shares come from different splits (their thresholds differ)');
    if (s.length !== first.length) throw new InvalidArgumentError(field, 'the shares come from different splits (their lengths differ)');
  }
  const seen = new Set<number>();
  for (const s of shares) {
    if (seen.has(s.index)) throw new InvalidArgumentError(field, `share ${s.index} was given twice`);
    seen.add(s.index);
  }
  if (shares.length < first.threshold) {
    throw new InvalidArgumentError(field, `${first.threshold} shares are needed, ${shares.length} given`);
  }
  // Lagrange basis at 0: L_i = Π_{j≠i} x_j / (x_j - x_i); subtraction is XOR in GF(2^8).
  // The indexes are public, so these need not be constant time (they are anyway).
  const basis = shares.map((si) => {
    let num = 1;
    let den = 1;
    for (const sj of shares) {
      if (sj === si) continue;
      num = gfMul(num, sj.index);
      den = gfMul(den, sj.index ^ si.index);
    }
    return gfMul(num, gfInverse(den));
  });
  const ys = shares.map((s) => s.payload);
  try {
    const secret = new Uint8Array(first.length);
    for (let b = 0; b < secret.length; b++) {
      let acc = 0;
      ys.forEach((y, i) => {
        acc ^= gfMul(y[b] as number, basis[i] as number);
      });
      secret[b] = acc;
    }
    return secret;
  } finally {
    for (const y of ys) y.fill(0);
  }
}

/**
 * The text form handed to an operator: `ghs1-<k>-<index>-<payload>-<checksum>`, payload in
 * RFC 4648 base32 (no padding), checksum = the first 40 bits of SHA-256 over the rest, in base32.
 * Upper case; decoding also accepts lower case and ignores whitespace (line wraps when pasted).
 */
export function encodeShare(share: Share): string {
  const payload = share.payload;
  try {
    const body = `${SHARE_PREFIX}-${share.threshold}-${share.index}-${base32Encode(payload)}`;
    return `${body}-${checksum(body)}`;
  } finally {
    payload.fill(0);
  }
}

/**
 * Parses a share's text form. Every problem is INVALID_ARGUMENT on `field`, naming what is wrong
 * (not a share, unsupported format version, checksum mismatch = a typo, malformed payload) and
 * never repeating the text.
 */
export function decodeShare(text: string, field = 'share'): Share {
  if (typeof text !== 'string') throw new InvalidArgumentError(field, 'must be the text of a share (ghs1-…)');
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0) throw new InvalidArgumentError(field, 'is empty');
  if (compact.length > MAX_SHARE_TEXT) throw new InvalidArgumentError(field, 'is too long to be a share');
  const version = /^ghs(\d{1,3})-/i.exec(compact);
  if (!version) throw new InvalidArgumentError(field, 'is malformed: a share starts with "ghs1-"');
  if (Number(version[1]) !== SHARE_FORMAT_VERSION) {
    throw new InvalidArgumentError(field, `uses share format version ${Number(version[1])}; this service reads version ${SHARE_FORMAT_VERSION} (ghs1-…)`);
  }
  const parts = compact.split('-');
  if (parts.length !== 5) throw new InvalidArgumentError(field, 'is malformed: expected ghs1-<threshold>-<index>-<payload>-<checksum>');
  const [, thresholdText, indexText, payloadText, checksumText] = parts as [string, string, string, string, string];
  if (!/^\d{1,2}$/.test(thresholdText) || !/^\d{1,2}$/.test(indexText)) {
    throw new InvalidArgumentError(field, 'is malformed: threshold and index must be numbers');
  }
  if (!/^[A-Z2-7]+$/i.test(payloadText)) throw new InvalidArgumentError(field, 'is malformed: the payload is not base32 (A-Z, 2-7)');
  if (!/^[A-Z2-7]{8}$/i.test(checksumText)) throw new InvalidArgumentError(field, 'is malformed: the checksum must be 8 base32 characters');
  const body = `${SHARE_PREFIX}-${Number(thresholdText)}-${Number(indexText)}-${payloadText.toUpperCase()}`;
  if (checksum(body) !== checksumText.toUpperCase()) {
    throw new InvalidArgumentError(field, 'checksum mismatch: the share was mistyped or damaged');
  }
  const payload = base32Decode(payloadText.toUpperCase());
  if (!payload) throw new InvalidArgumentError(field, 'is malformed: the payload has an impossible base32 length');
  try {
    return new Share(Number(thresholdText), Number(indexText), payload, field);
  } finally {
    payload.fill(0);
  }
}

function checksum(body: string): string {
  const digest = createHash('sha256').update(CHECKSUM_LABEL).update(body, 'utf8').digest();
  return base32Encode(digest.subarray(0, CHECKSUM_BYTES));
}
