import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { RandomSource } from '@gatehouse/core';
import { OtpSeed, cryptoRandom } from './otp-seed.js';

/** A 32-byte AES-256 key and the id written next to every ciphertext it made. */
export interface SeedKey {
  keyId: string;
  key: Uint8Array;
}

/**
 * Port: the seed-encryption keys, held outside the database (REQUIREMENTS "Secrets in a vault",
 * RFC 4226 §7.5). `current()` encrypts new seeds; `byId()` finds the key an older ciphertext
 * names, so keys can rotate without re-encrypting everything at once. Return undefined for an
 * unknown id.
 */
export interface SeedKeyring {
  current(): SeedKey;
  byId(keyId: string): Uint8Array | undefined;
}

/** Which row a seed ciphertext belongs to; authenticated as AAD, so a ciphertext copied to another row does not decrypt. */
export interface SeedBinding {
  credentialId: string;
  accountId: string;
}

/** Why a seed did not decrypt. None of them says anything about the seed. */
export type SeedCipherFailure = 'malformed' | 'unknown_key' | 'not_authentic';

/**
 * A stored seed could not be decrypted: tampered, moved to another row, wrong key, or not a
 * seed ciphertext. Deliberately not a DomainError: it is a server-side integrity failure, so
 * the service kit answers INTERNAL and logs it. The message is fixed and names only the
 * failure kind; neither the ciphertext nor the key nor the underlying crypto error is attached.
 */
export class SeedDecryptionError extends Error {
  constructor(readonly failure: SeedCipherFailure) {
    super(`OTP seed could not be decrypted (${failure})`);
    this.name = 'SeedDecryptionError';
  }
}

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const B64URL = /^[A-Za-z0-9_-]*$/;
const MAX_BINDING_LENGTH = 512;

/**
 * Seeds at rest (RFC 4226 §7.5, RFC 6238 §5.1): AES-256-GCM with a fresh 96-bit IV per
 * encryption, the key from a {@link SeedKeyring}, and AAD binding version, key id, credential id
 * and account id. Output: `v1:<keyId>:<iv>:<ct>:<tag>` (base64url parts), versioned so the
 * format can change without guessing. Decryption failures throw {@link SeedDecryptionError}.
 * `random` must be a CSPRNG in production (the default): a repeated IV under one key breaks GCM.
 */
export class SeedCipher {
  constructor(
    private readonly keyring: SeedKeyring,
    private readonly random: RandomSource = cryptoRandom,
  ) {}

  /** Encrypts `seed` for the row `binding` names, under the keyring's current key. */
  encrypt(seed: OtpSeed, binding: SeedBinding): string {
    const { keyId, key } = this.keyring.current();
    if (!KEY_ID.test(keyId)) throw new Error('seed key id must be 1-64 characters of [A-Za-z0-9_.-]');
    checkKey(key);
    const iv = this.random.bytes(IV_BYTES);
    if (iv.length !== IV_BYTES) throw new Error(`random source returned ${iv.length} bytes, wanted ${IV_BYTES}`);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(keyId, binding));
    const ct = Buffer.concat([cipher.update(seed.reveal()), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, keyId, b64(iv), b64(ct), b64(tag)].join(':');
  }

  /** Decrypts a value made by {@link encrypt} for the same binding, or throws SeedDecryptionError. */
  decrypt(encrypted: string, binding: SeedBinding): OtpSeed {
    if (typeof encrypted !== 'string') throw new SeedDecryptionError('malformed');
    const parts = encrypted.split(':');
    if (parts.length !== 5) throw new SeedDecryptionError('malformed');
    const [version, keyId, ivText, ctText, tagText] = parts as [string, string, string, string, string];
    if (version !== VERSION || !KEY_ID.test(keyId)) throw new SeedDecryptionError('malformed');
    if (![ivText, ctText, tagText].every((p) => B64URL.test(p))) throw new SeedDecryptionError('malformed');
    const iv = Buffer.from(ivText, 'base64url');
    const ct = Buffer.from(ctText, 'base64url');
    const tag = Buffer.from(tagText, 'base64url');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES || ct.length === 0) throw new SeedDecryptionError('malformed');
    const key = this.keyring.byId(keyId);
    if (!key) throw new SeedDecryptionError('unknown_key');
    checkKey(key);
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(keyId, binding));
      decipher.setAuthTag(tag);
      plain = Buffer.concat([decipher.update(ct), decipher.final()]);
    } catch {
      // Wrong key, wrong binding or tampering: GCM cannot tell them apart, and neither do we.
      throw new SeedDecryptionError('not_authentic');
    }
    try {
      return OtpSeed.fromBytes(plain);
    } catch {
      throw new SeedDecryptionError('malformed');
    } finally {
      plain.fill(0);
    }
  }

  /** True when `encrypted` was made under a key other than the current one (re-encrypt it on the next write). */
  needsRotation(encrypted: string): boolean {
    return encrypted.split(':')[1] !== this.keyring.current().keyId;
  }
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) throw new Error(`seed key must be ${KEY_BYTES} bytes (AES-256)`);
}

/** Unambiguous AAD: every field length-prefixed, so no choice of ids can collide with another. */
function aad(keyId: string, binding: SeedBinding): Buffer {
  const fields = ['gatehouse/otp-seed', VERSION, keyId, binding.credentialId, binding.accountId];
  for (const f of [binding.credentialId, binding.accountId]) {
    if (typeof f !== 'string' || f.length === 0 || f.length > MAX_BINDING_LENGTH) {
      throw new Error('seed binding needs a non-empty credentialId and accountId');
    }
  }
  return Buffer.from(fields.map((f) => `${Buffer.byteLength(f, 'utf8')}:${f}`).join(''), 'utf8');
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}
