import { randomBytes } from 'node:crypto';
import type { RandomSource } from '@gatehouse/core';
import { MAX_SEED_BYTES, MIN_SEED_BYTES, SEED_BYTES } from './otp-types.js';

const REDACTED = '[OtpSeed redacted]';

/**
 * An OTP shared secret in clear. Wrapped rather than a bare Uint8Array so that an accidental
 * `log.info({ seed })`, `String(seed)`, `JSON.stringify` or `util.inspect` prints a placeholder
 * instead of the secret (RFC 4226 §7.5, ASVS 16.2.5: seeds are never logged). Only
 * {@link OtpSeed.reveal} gives the bytes, and only the seed cipher, the code generator and the
 * otpauth URI call it. Call {@link OtpSeed.destroy} when done to wipe the copy in memory.
 */
export class OtpSeed {
  readonly #bytes: Uint8Array;

  private constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** Copies `bytes` (16 to 64 of them: below 128 bits is refused, RFC 4226 §4 R6). */
  static fromBytes(bytes: Uint8Array): OtpSeed {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('OTP seed must be a Uint8Array');
    if (bytes.length < MIN_SEED_BYTES || bytes.length > MAX_SEED_BYTES) {
      throw new RangeError(`OTP seed must be ${MIN_SEED_BYTES} to ${MAX_SEED_BYTES} bytes, got ${bytes.length}`);
    }
    return new OtpSeed(Uint8Array.from(bytes));
  }

  /** Seed length in bytes (20 for seeds we generate). */
  get byteLength(): number {
    return this.#bytes.length;
  }

  /** The secret bytes themselves. Do not keep, log or copy the result; it is the live buffer. */
  reveal(): Uint8Array {
    return this.#bytes;
  }

  /** Overwrites the bytes with zeros; the seed is unusable afterwards. */
  destroy(): void {
    this.#bytes.fill(0);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}

/** The production RandomSource: node:crypto's CSPRNG (issue 4: "160 bits from a CSPRNG"). */
export const cryptoRandom: RandomSource = {
  bytes: (n: number) => new Uint8Array(randomBytes(n)),
};

/**
 * A fresh 160-bit seed from `random` (default: node:crypto). Fails closed if the source returns
 * the wrong length or all zeros, which only a broken or stubbed RNG does.
 */
export function newSeed(random: RandomSource = cryptoRandom): OtpSeed {
  const bytes = random.bytes(SEED_BYTES);
  try {
    if (bytes.length !== SEED_BYTES) throw new Error(`random source returned ${bytes.length} bytes, wanted ${SEED_BYTES}`);
    if (bytes.every((b) => b === 0)) throw new Error('random source returned only zeros');
    return OtpSeed.fromBytes(bytes);
  } finally {
    bytes.fill(0);
  }
}

export { base32Encode } from '@gatehouse/core';
