import type { KeyObject } from 'node:crypto';
import type { auditV1 } from '@gatehouse/contracts';
import { formatSignedAt, HASH_SIZE, publicKeyFromRaw, verifyCheckpoint, type CheckpointFields } from '@gatehouse/merkle';

/** A checkpoint key the verifier trusts (from GetSigningKeys or the operator, never the export). */
export interface TrustedKey {
  keyId: string;
  /** Raw 32-byte Ed25519 public key (SigningKey.public_key). */
  publicKey: Uint8Array;
}

/** Why a checkpoint is not acceptable. */
export interface CheckpointProblem {
  damage: 'untrusted-key' | 'bad-signature' | 'malformed';
  detail: string;
}

/** The signed fields of a contract Checkpoint, or a description of what is missing. */
export function checkpointFields(cp: auditV1.Checkpoint): CheckpointFields | string {
  if (cp.signedAt === undefined) return 'it has no signed_at';
  if (cp.rootHash.length !== HASH_SIZE) return `its root_hash is ${cp.rootHash.length} bytes, not ${HASH_SIZE}`;
  if (!Number.isSafeInteger(cp.treeSize) || cp.treeSize < 0) return 'its tree_size is not a valid size';
  return { origin: cp.origin, treeSize: cp.treeSize, rootHash: cp.rootHash, signedAt: cp.signedAt };
}

/**
 * The set of trusted checkpoint keys, imported once. Checking a checkpoint against it is what
 * makes an export, a GetCheckpoint answer or a proof response mean anything: the export carries
 * its own keys, but those are only a hint and are never trusted.
 */
export class TrustedKeySet {
  private readonly keys = new Map<string, KeyObject>();

  /** Throws RangeError if a key is not a raw 32-byte Ed25519 public key. */
  constructor(keys: readonly TrustedKey[]) {
    for (const k of keys) this.keys.set(k.keyId, publicKeyFromRaw(k.publicKey));
  }

  /** Key ids in the set. */
  ids(): string[] {
    return [...this.keys.keys()];
  }

  /**
   * Checks a checkpoint's signature by a trusted key (and its origin, when given). Returns
   * undefined when it is good.
   */
  check(cp: auditV1.Checkpoint, origin?: string): CheckpointProblem | undefined {
    const what = `checkpoint of tree size ${cp.treeSize}`;
    const fields = checkpointFields(cp);
    if (typeof fields === 'string') return { damage: 'malformed', detail: `${what} is malformed: ${fields}` };
    if (origin !== undefined && cp.origin !== origin) {
      return { damage: 'malformed', detail: `${what} is for log "${cp.origin}", not "${origin}"` };
    }
    const key = this.keys.get(cp.keyId);
    if (key === undefined) {
      return { damage: 'untrusted-key', detail: `${what} is signed by key "${cp.keyId}", which is not among the trusted keys (${this.ids().join(', ') || 'none'})` };
    }
    if (!verifyCheckpoint(fields, cp.signature, key)) {
      let when = '';
      try {
        when = ` signed at ${formatSignedAt(cp.signedAt as Date)}`;
      } catch {
        // An unrepresentable date is part of what the bad signature reports.
      }
      return { damage: 'bad-signature', detail: `${what}${when} does not carry a valid signature by key "${cp.keyId}"` };
    }
    return undefined;
  }
}
