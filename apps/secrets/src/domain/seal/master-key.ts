import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { RandomSource } from '@gatehouse/core';

/** A master key is 256 bits (AES-256). */
export const MASTER_KEY_BYTES = 32;

const REDACTED = '[master key]';
const KEY_ID_LABEL = 'gatehouse/secrets/master-key-id';
const SUBKEY_INFO_PREFIX = 'gatehouse/secrets/';

/** The CSPRNG of node:crypto. */
const cryptoRandom: RandomSource = { bytes: (n) => randomBytes(n) };

/**
 * A master key was used after {@link MasterKey.wipe} (the service was sealed, or the key was
 * retired by a rotation). Using a zeroed key would encrypt under a known key, so it throws.
 * Not a DomainError: reaching it is a server-side race or bug (INTERNAL).
 */
export class MasterKeyWipedError extends Error {
  constructor() {
    super('the master key was wiped (sealed or rotated away) and cannot be used');
    this.name = 'MasterKeyWipedError';
  }
}

/**
 * The secrets service's master key, in memory only while unsealed. The 32 bytes are private;
 * `keyId` is a non-secret fingerprint (HMAC-SHA256 under the key, truncated) and `version`
 * counts rotations (1 for the first key). JSON, String(), template literals and util.inspect
 * all give `[master key]`. {@link wipe} zeroes the bytes, after which every use throws.
 */
export class MasterKey {
  readonly #bytes: Buffer;
  #wiped = false;
  readonly keyId: string;
  readonly version: number;

  private constructor(bytes: Buffer, version: number) {
    if (!Number.isInteger(version) || version < 1) throw new Error('a master key version is a positive integer');
    this.#bytes = bytes;
    this.version = version;
    this.keyId = masterKeyFingerprint(bytes);
  }

  /** A fresh random key. `random` must be a CSPRNG in production. */
  static generate(version: number, random: RandomSource = cryptoRandom): MasterKey {
    const bytes = random.bytes(MASTER_KEY_BYTES);
    try {
      return MasterKey.fromBytes(bytes, version);
    } finally {
      bytes.fill(0);
    }
  }

  /** A key holding a copy of `bytes` (the caller wipes its own copy). */
  static fromBytes(bytes: Uint8Array, version: number): MasterKey {
    if (!(bytes instanceof Uint8Array) || bytes.length !== MASTER_KEY_BYTES) {
      throw new Error(`a master key is ${MASTER_KEY_BYTES} bytes`);
    }
    return new MasterKey(Buffer.from(bytes), version);
  }

  /** True once {@link wipe} ran. */
  get wiped(): boolean {
    return this.#wiped;
  }

  /**
   * Runs `fn` on the raw key bytes, for the key file that stores the key wrapped. `fn` must be
   * synchronous and must not keep the buffer: it is the key itself, zeroed by {@link wipe}.
   * Everything else should use {@link deriveKey}.
   */
  withBytes<T>(fn: (key: Buffer) => T): T {
    this.assertUsable();
    const result = fn(this.#bytes);
    if (result instanceof Promise) throw new Error('MasterKey.withBytes takes a synchronous function');
    return result;
  }

  /**
   * A 32-byte subkey for one purpose (HKDF-SHA256, RFC 5869, info `gatehouse/secrets/<purpose>`),
   * so the master key itself encrypts nothing and no two uses share a key. The caller wipes it.
   */
  deriveKey(purpose: string): Buffer {
    this.assertUsable();
    if (typeof purpose !== 'string' || !/^[a-z0-9][a-z0-9/.-]{0,99}$/.test(purpose)) {
      throw new Error('a subkey purpose is 1-100 characters of [a-z0-9/.-]');
    }
    return Buffer.from(hkdfSync('sha256', this.#bytes, Buffer.alloc(0), SUBKEY_INFO_PREFIX + purpose, 32));
  }

  /** Zeroes the key bytes; idempotent. Every later use throws {@link MasterKeyWipedError}. */
  wipe(): void {
    this.#bytes.fill(0);
    this.#wiped = true;
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }

  private assertUsable(): void {
    if (this.#wiped) throw new MasterKeyWipedError();
  }
}

/** `mk-` + 16 hex digits of HMAC-SHA256(key, label): identifies a key without revealing it. */
export function masterKeyFingerprint(key: Uint8Array): string {
  return `mk-${createHmac('sha256', key).update(KEY_ID_LABEL).digest('hex').slice(0, 16)}`;
}
