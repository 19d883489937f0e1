import type { Transaction } from '@gatehouse/core';

/**
 * One Ed25519 key that signs a service's tokens. The private key is stored only encrypted
 * (AES-GCM under the service's master key, bound to the key id), so that every replica signs
 * with the same key set while a database thief cannot forge tokens.
 */
export interface SigningKeyRecord {
  keyId: string;
  /** Raw 32-byte Ed25519 public key (RFC 8032). */
  publicKey: Uint8Array;
  /** The PKCS#8 private key, encrypted; never logged or returned. */
  encryptedPrivateKey: string;
  createdAt: Date;
  /** When it starts signing: later than createdAt by the publish-ahead time, except for the very first key. */
  activatesAt: Date;
}

/** Storage port of signing keys, so the ring works on either store; SQLite and MongoDB adapters pass one contract suite. */
export interface SigningKeyRepository {
  /**
   * Inserts a key; AlreadyExistsError if the id is taken. With `tx`, inside that unit of work (so
   * a service can commit the key together with its rotation event).
   */
  create(key: SigningKeyRecord, tx?: Transaction): Promise<void>;
  /** Every stored key, oldest activation first. */
  list(): Promise<SigningKeyRecord[]>;
  /** Deletes keys (used once no token they signed can still be valid); returns how many. */
  delete(keyIds: string[]): Promise<number>;
}
