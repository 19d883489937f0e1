import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { RandomSource } from '@gatehouse/core';

/** A 32-byte AES-256 key and the id written next to every ciphertext it made. */
export interface SealingKey {
  keyId: string;
  key: Uint8Array;
}

/**
 * Port: encryption keys held outside the database (REQUIREMENTS "Secrets in a vault").
 * `current()` encrypts; `byId()` finds the key an older ciphertext names, so keys can rotate
 * without re-encrypting everything at once. Return undefined for an unknown id.
 */
export interface Keyring {
  current(): SealingKey;
  byId(keyId: string): Uint8Array | undefined;
}

/** Why a value did not open. None of them says anything about the value. */
export type SealedBoxFailure = 'malformed' | 'unknown_key' | 'not_authentic';

/**
 * A sealed value could not be opened: tampered, moved to another row, wrong key, or not a
 * ciphertext of this box. Deliberately not a DomainError: a server-side integrity failure is
 * INTERNAL (logged, never sent). The message names only the failure kind.
 */
export class SealedBoxError extends Error {
  constructor(
    readonly failure: SealedBoxFailure,
    purpose: string,
  ) {
    super(`${purpose} could not be decrypted (${failure})`);
    this.name = 'SealedBoxError';
  }
}

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const B64URL = /^[A-Za-z0-9_-]*$/;
const MAX_BINDING_LENGTH = 512;

/** The CSPRNG of node:crypto. */
const cryptoRandom: RandomSource = { bytes: (n) => randomBytes(n) };

/**
 * Values at rest (OTP seeds, phone numbers, signing keys): AES-256-GCM with a fresh 96-bit IV
 * per encryption, the key from a {@link Keyring}, and AAD binding the purpose, the format
 * version, the key id and the row the value belongs to, so a ciphertext copied to another row
 * or used for another purpose does not decrypt. Output: `v1:<keyId>:<iv>:<ct>:<tag>`
 * (base64url parts). `random` must be a CSPRNG in production: a repeated IV breaks GCM.
 */
export class SealedBox {
  constructor(
    private readonly keyring: Keyring,
    /** Domain separation, e.g. `gatehouse/otp-seed`; part of the AAD. */
    readonly purpose: string,
    private readonly random: RandomSource = cryptoRandom,
  ) {}

  /** Encrypts `plain` for the row `binding` names, under the keyring's current key. */
  seal(plain: Uint8Array, binding: readonly string[]): string {
    const { keyId, key } = this.keyring.current();
    if (!KEY_ID.test(keyId)) throw new Error('key id must be 1-64 characters of [A-Za-z0-9_.-]');
    checkKey(key);
    const iv = this.random.bytes(IV_BYTES);
    if (iv.length !== IV_BYTES) throw new Error(`random source returned ${iv.length} bytes, wanted ${IV_BYTES}`);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(this.aad(keyId, binding));
    const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, keyId, b64(iv), b64(ct), b64(tag)].join(':');
  }

  /** Decrypts a value sealed for the same binding, or throws {@link SealedBoxError}. The caller wipes the result. */
  open(encrypted: string, binding: readonly string[]): Buffer {
    const fail = (f: SealedBoxFailure) => new SealedBoxError(f, this.purpose);
    if (typeof encrypted !== 'string') throw fail('malformed');
    const parts = encrypted.split(':');
    if (parts.length !== 5) throw fail('malformed');
    const [version, keyId, ivText, ctText, tagText] = parts as [string, string, string, string, string];
    if (version !== VERSION || !KEY_ID.test(keyId)) throw fail('malformed');
    if (![ivText, ctText, tagText].every((p) => B64URL.test(p))) throw fail('malformed');
    const iv = Buffer.from(ivText, 'base64url');
    const ct = Buffer.from(ctText, 'base64url');
    const tag = Buffer.from(tagText, 'base64url');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES || ct.length === 0) throw fail('malformed');
    const key = this.keyring.byId(keyId);
    if (!key) throw fail('unknown_key');
    checkKey(key);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(this.aad(keyId, binding));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ct), decipher.final()]);
    } catch {
      // Wrong key, wrong binding or tampering: GCM cannot tell them apart, and neither do we.
      throw fail('not_authentic');
    }
  }

  /** True when `encrypted` was made under a key other than the current one (re-encrypt it on the next write). */
  needsRotation(encrypted: string): boolean {
    return encrypted.split(':')[1] !== this.keyring.current().keyId;
  }

  /** Unambiguous AAD: every field length-prefixed, so no choice of ids can collide with another. */
  private aad(keyId: string, binding: readonly string[]): Buffer {
    for (const f of binding) {
      if (typeof f !== 'string' || f.length === 0 || f.length > MAX_BINDING_LENGTH) {
        throw new Error(`${this.purpose}: every binding field must be a non-empty string of at most ${MAX_BINDING_LENGTH} characters`);
      }
    }
    const fields = [this.purpose, VERSION, keyId, ...binding];
    return Buffer.from(fields.map((f) => `${Buffer.byteLength(f, 'utf8')}:${f}`).join(''), 'utf8');
  }
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) throw new Error(`encryption keys must be ${KEY_BYTES} bytes (AES-256)`);
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}
