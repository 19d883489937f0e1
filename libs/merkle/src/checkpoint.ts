import { Buffer } from 'node:buffer';
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { HASH_SIZE, isTreeIndex } from './hash.js';

/** First line of every checkpoint's signed text (audit_service.proto, Checkpoint). */
export const CHECKPOINT_HEADER = 'gatehouse.audit.v1 checkpoint';

/** What a checkpoint signature covers (key id and signature travel beside it, unsigned). */
export interface CheckpointFields {
  /** Identity of the log, constant for a deployment; one line, no newline. */
  origin: string;
  /** Number of entries covered. */
  treeSize: number;
  /** RFC 9162 root of the first treeSize leaves (32 bytes). */
  rootHash: Uint8Array;
  /** When it was signed. Millisecond precision: a Date (and the generated contracts) hold no more. */
  signedAt: Date;
}

/**
 * RFC 3339 UTC with exactly nine fractional digits, as the signed text requires. A Date only
 * holds milliseconds, so the last six digits are zeros; a signer must therefore sign with
 * millisecond precision or verifiers (who read signed_at back as a Date) cannot rebuild the text.
 */
export function formatSignedAt(date: Date): string {
  const iso = date.toISOString(); // throws RangeError for an invalid Date
  if (iso.length !== 24) throw new RangeError(`signed_at ${iso} is outside years 0000-9999`);
  return `${iso.slice(0, 23)}000000Z`;
}

/**
 * The exact UTF-8 text an audit checkpoint signature covers: five lines, each ending in "\n"
 * (header, origin, decimal tree size, padded standard base64 root, signed_at with nine
 * fractional digits). Throws RangeError for fields that cannot be represented.
 */
export function checkpointText(fields: CheckpointFields): string {
  const { origin, treeSize, rootHash, signedAt } = fields;
  if (typeof origin !== 'string' || origin.length === 0 || /[\r\n]/.test(origin)) {
    throw new RangeError('checkpoint origin must be a non-empty single line');
  }
  if (!isTreeIndex(treeSize)) throw new RangeError(`checkpoint tree size ${String(treeSize)} is not a non-negative safe integer`);
  if (!(rootHash instanceof Uint8Array) || rootHash.length !== HASH_SIZE) throw new RangeError('checkpoint root hash must be 32 bytes');
  const root = Buffer.from(rootHash.buffer, rootHash.byteOffset, rootHash.byteLength).toString('base64');
  return `${CHECKPOINT_HEADER}\n${origin}\n${treeSize}\n${root}\n${formatSignedAt(signedAt)}\n`;
}

function assertEd25519(key: KeyObject, type: 'private' | 'public'): void {
  if (key.asymmetricKeyType !== 'ed25519' || (type === 'private' && key.type !== 'private')) {
    throw new TypeError(`checkpoint keys are Ed25519; got a ${key.type} ${String(key.asymmetricKeyType)} key`);
  }
}

/** Signs a checkpoint: the 64-byte Ed25519 signature over `checkpointText(fields)`. */
export function signCheckpoint(fields: CheckpointFields, privateKey: KeyObject): Buffer {
  assertEd25519(privateKey, 'private');
  return sign(null, Buffer.from(checkpointText(fields), 'utf8'), privateKey);
}

/**
 * Whether `signature` is a valid Ed25519 signature of the checkpoint by `publicKey` (a KeyObject
 * or the raw 32-byte key). Never throws: any malformed field, key or signature is false.
 */
export function verifyCheckpoint(fields: CheckpointFields, signature: Uint8Array, publicKey: KeyObject | Uint8Array): boolean {
  try {
    if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
    const key = publicKey instanceof Uint8Array ? publicKeyFromRaw(publicKey) : publicKey;
    assertEd25519(key, 'public');
    return verify(null, Buffer.from(checkpointText(fields), 'utf8'), key, signature);
  } catch {
    return false;
  }
}

// DER SubjectPublicKeyInfo of an Ed25519 key is this fixed prefix followed by the raw key.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The raw 32-byte Ed25519 public key (RFC 8032 encoding, SigningKey.public_key) of a key pair. */
export function rawPublicKey(key: KeyObject): Buffer {
  assertEd25519(key, 'public');
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const der = pub.export({ format: 'der', type: 'spki' });
  return Buffer.from(der.subarray(ED25519_SPKI_PREFIX.length));
}

/** A verifying KeyObject from a raw 32-byte Ed25519 public key. Throws RangeError otherwise. */
export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (!(raw instanceof Uint8Array) || raw.length !== 32) throw new RangeError('an Ed25519 public key is 32 bytes');
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/**
 * Short stable id of a checkpoint key: the first 16 lower-case hex characters (64 bits) of
 * SHA-256 of the raw 32-byte public key. Derived from the key itself, so the log, the export and
 * an offline verifier agree on it without a registry.
 */
export function keyIdOf(rawPublicKey: Uint8Array): string {
  if (!(rawPublicKey instanceof Uint8Array) || rawPublicKey.length !== 32) throw new RangeError('an Ed25519 public key is 32 bytes');
  return createHash('sha256').update(rawPublicKey).digest('hex').slice(0, 16);
}
