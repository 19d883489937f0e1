import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { InvalidArgumentError, type RandomSource } from '@gatehouse/core';
import type { MasterKey } from '../seal/index.js';
import { lengthPrefixed } from '../aad.js';

/**
 * Envelope encryption of secret values (DESIGN §6 Secrets; REQUIREMENTS "Secrets in a vault").
 *
 * - Each secret version gets a fresh random 256-bit data key. The value is encrypted under it
 *   with AES-256-GCM (96-bit random IV, 128-bit tag), AAD = length-prefixed
 *   ("gatehouse/secrets/value", "v1", environment, app, name, version).
 * - The data key is wrapped by a subkey of the master key (HKDF "data-key-wrap/v1") with
 *   AES-256-GCM, AAD = length-prefixed ("gatehouse/secrets/data-key", "dk1", environment, app,
 *   name, version, master key version). The wrapped key is one string,
 *   `dk1.<iv>.<ciphertext>.<tag>`.
 *
 * So a ciphertext, a wrapped key or a whole record moved to another row (environment, app, name
 * or version) does not decrypt, and a master key rotation re-wraps data keys without touching
 * value ciphertexts. Plaintext data keys are wiped after each use. Binary fields are base64.
 */

/** Largest value (the contract: 1 byte to 64 KiB). */
export const MAX_VALUE_BYTES = 64 * 1024;
const DATA_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VALUE_FORMAT = 'v1';
const WRAP_FORMAT = 'dk1';
const WRAP_SUBKEY = 'data-key-wrap/v1';
const MAX_BINDING_FIELD_BYTES = 256;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The CSPRNG of node:crypto. */
const cryptoRandom: RandomSource = { bytes: (n) => randomBytes(n) };

/** The row a value belongs to; every field is bound into the AAD. */
export interface SecretBinding {
  environment: string;
  app: string;
  name: string;
  version: number;
}

/** What the store keeps for one secret version. Contains no plaintext and no usable key. */
export interface SealedValue {
  /** base64 of the value ciphertext. */
  ciphertext: string;
  /** base64 of the 12-byte IV of the value. */
  iv: string;
  /** base64 of the 16-byte GCM tag of the value. */
  tag: string;
  /** The data key wrapped by the master key: `dk1.<iv>.<ciphertext>.<tag>` (base64 parts). */
  wrappedDataKey: string;
  /** Version of the master key that wrapped the data key. */
  masterKeyVersion: number;
}

export type EnvelopeFailure = 'malformed' | 'master_key_version' | 'data_key' | 'value';

/**
 * A sealed value did not open: malformed, wrapped under another master key version, a wrapped
 * data key that does not authenticate (wrong master key, moved to another row, tampered), or a
 * value ciphertext that does not authenticate (moved, tampered). Deliberately not a
 * DomainError: it is a server-side integrity failure (INTERNAL, logged, never sent). The
 * message names only the failure kind.
 */
export class EnvelopeIntegrityError extends Error {
  constructor(readonly failure: EnvelopeFailure) {
    super(`secret value could not be decrypted (${failure})`);
    this.name = 'EnvelopeIntegrityError';
  }
}

/**
 * Encrypts `plaintext` (1 byte to 64 KiB, else INVALID_ARGUMENT on `value`) for `binding` under
 * a fresh data key wrapped by `master`. `random` must be a CSPRNG in production.
 */
export function encryptValue(master: MasterKey, binding: SecretBinding, plaintext: Uint8Array, random: RandomSource = cryptoRandom): SealedValue {
  if (!(plaintext instanceof Uint8Array)) throw new InvalidArgumentError('value', 'must be bytes');
  if (plaintext.length === 0) throw new InvalidArgumentError('value', 'must not be empty');
  if (plaintext.length > MAX_VALUE_BYTES) throw new InvalidArgumentError('value', `must be at most ${MAX_VALUE_BYTES} bytes (64 KiB)`);
  const valueAad = valueAadOf(binding);
  const dataKey = randomExactly(random, DATA_KEY_BYTES);
  try {
    const iv = randomExactly(random, IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', dataKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(valueAad);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const tag = cipher.getAuthTag();
    return {
      ciphertext: ciphertext.toString('base64'),
      iv: Buffer.from(iv).toString('base64'),
      tag: tag.toString('base64'),
      wrappedDataKey: wrapDataKey(master, binding, dataKey, random),
      masterKeyVersion: master.version,
    };
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Decrypts a sealed value of `binding` with the master key of its `masterKeyVersion`. Any
 * mismatch throws {@link EnvelopeIntegrityError}. The caller wipes the returned plaintext.
 */
export function decryptValue(master: MasterKey, binding: SecretBinding, sealed: SealedValue): Buffer {
  const valueAad = valueAadOf(binding);
  const parts = parseSealed(sealed);
  const dataKey = unwrapDataKey(master, binding, sealed);
  try {
    const decipher = createDecipheriv('aes-256-gcm', dataKey, parts.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(valueAad);
    decipher.setAuthTag(parts.tag);
    try {
      return Buffer.concat([decipher.update(parts.ciphertext), decipher.final()]);
    } catch {
      throw new EnvelopeIntegrityError('value');
    }
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Master key rotation: unwraps the data key with `oldMaster` and wraps it with `newMaster`
 * (a higher version). The value ciphertext, IV and tag are returned unchanged and never
 * decrypted. Throws {@link EnvelopeIntegrityError} if the data key does not open.
 */
export function rewrapDataKey(
  oldMaster: MasterKey,
  newMaster: MasterKey,
  binding: SecretBinding,
  sealed: SealedValue,
  random: RandomSource = cryptoRandom,
): SealedValue {
  if (newMaster.version <= oldMaster.version) throw new Error('rewrapDataKey: the new master key must have a higher version than the old one');
  checkBinding(binding);
  parseSealed(sealed);
  const dataKey = unwrapDataKey(oldMaster, binding, sealed);
  try {
    return {
      ciphertext: sealed.ciphertext,
      iv: sealed.iv,
      tag: sealed.tag,
      wrappedDataKey: wrapDataKey(newMaster, binding, dataKey, random),
      masterKeyVersion: newMaster.version,
    };
  } finally {
    dataKey.fill(0);
  }
}

function wrapDataKey(master: MasterKey, binding: SecretBinding, dataKey: Uint8Array, random: RandomSource): string {
  const kek = master.deriveKey(WRAP_SUBKEY);
  try {
    const iv = randomExactly(random, IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', kek, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(wrapAadOf(binding, master.version));
    const ciphertext = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return [WRAP_FORMAT, Buffer.from(iv).toString('base64'), ciphertext.toString('base64'), cipher.getAuthTag().toString('base64')].join('.');
  } finally {
    kek.fill(0);
  }
}

/** The plaintext data key (the caller wipes it). */
function unwrapDataKey(master: MasterKey, binding: SecretBinding, sealed: SealedValue): Buffer {
  const wrapAad = wrapAadOf(binding, sealed.masterKeyVersion);
  if (sealed.masterKeyVersion !== master.version) throw new EnvelopeIntegrityError('master_key_version');
  const parts = sealed.wrappedDataKey.split('.');
  if (parts.length !== 4 || parts[0] !== WRAP_FORMAT) throw new EnvelopeIntegrityError('malformed');
  const iv = base64Exactly(parts[1], IV_BYTES, IV_BYTES);
  const ciphertext = base64Exactly(parts[2], DATA_KEY_BYTES, DATA_KEY_BYTES);
  const tag = base64Exactly(parts[3], TAG_BYTES, TAG_BYTES);
  const kek = master.deriveKey(WRAP_SUBKEY);
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(wrapAad);
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    } catch {
      throw new EnvelopeIntegrityError('data_key');
    }
  } finally {
    kek.fill(0);
  }
}

function parseSealed(sealed: SealedValue): { ciphertext: Buffer; iv: Buffer; tag: Buffer } {
  if (typeof sealed !== 'object' || sealed === null) throw new EnvelopeIntegrityError('malformed');
  if (!Number.isSafeInteger(sealed.masterKeyVersion) || sealed.masterKeyVersion < 1) throw new EnvelopeIntegrityError('malformed');
  if (typeof sealed.wrappedDataKey !== 'string') throw new EnvelopeIntegrityError('malformed');
  return {
    ciphertext: base64Exactly(sealed.ciphertext, 1, MAX_VALUE_BYTES),
    iv: base64Exactly(sealed.iv, IV_BYTES, IV_BYTES),
    tag: base64Exactly(sealed.tag, TAG_BYTES, TAG_BYTES),
  };
}

function base64Exactly(text: unknown, min: number, max: number): Buffer {
  if (typeof text !== 'string' || !BASE64.test(text)) throw new EnvelopeIntegrityError('malformed');
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text || bytes.length < min || bytes.length > max) throw new EnvelopeIntegrityError('malformed');
  return bytes;
}

function valueAadOf(binding: SecretBinding): Buffer {
  checkBinding(binding);
  return lengthPrefixed(['gatehouse/secrets/value', VALUE_FORMAT, binding.environment, binding.app, binding.name, String(binding.version)]);
}

function wrapAadOf(binding: SecretBinding, masterKeyVersion: number): Buffer {
  checkBinding(binding);
  return lengthPrefixed(['gatehouse/secrets/data-key', WRAP_FORMAT, binding.environment, binding.app, binding.name, String(binding.version), String(masterKeyVersion)]);
}

/** A malformed binding is a programming error (the service validated the request): a plain Error. */
function checkBinding(binding: SecretBinding): void {
  if (typeof binding !== 'object' || binding === null) throw new Error('secret binding is required');
  for (const field of ['environment', 'app', 'name'] as const) {
    const v = binding[field];
    if (typeof v !== 'string' || v.length === 0 || Buffer.byteLength(v, 'utf8') > MAX_BINDING_FIELD_BYTES) {
      throw new Error(`secret binding: ${field} must be a non-empty string of at most ${MAX_BINDING_FIELD_BYTES} bytes`);
    }
  }
  if (!Number.isSafeInteger(binding.version) || binding.version < 1) throw new Error('secret binding: version must be a positive integer');
}


function randomExactly(random: RandomSource, n: number): Uint8Array {
  const bytes = random.bytes(n);
  if (bytes.length !== n) throw new Error(`random source returned ${bytes.length} bytes, wanted ${n}`);
  return bytes;
}
