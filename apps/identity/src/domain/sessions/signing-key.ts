/**
 * One Ed25519 key that signs session tokens. The private key is stored only encrypted (AES-GCM
 * under identity's master key, bound to the key id), so that every replica signs with the same
 * key set while a database thief cannot forge sessions.
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

/** Storage port of signing keys; SQLite and MongoDB adapters pass one contract suite. */
export interface SigningKeyRepository {
  /** Inserts a key; AlreadyExistsError if the id is taken. */
  create(key: SigningKeyRecord): Promise<void>;
  /** Every stored key, oldest activation first. */
  list(): Promise<SigningKeyRecord[]>;
  /** Deletes keys (used once no token they signed can still be valid); returns how many. */
  delete(keyIds: string[]): Promise<number>;
}

/**
 * The one-time bootstrap token that creates the first security officer (issue 4 item 1). Only
 * its SHA-256 is stored; it is consumed with a single compare-and-set.
 */
export interface BootstrapTokenRepository {
  /** Stores a new token hash, replacing any earlier unused one. */
  put(tokenHash: string, createdAt: Date, expiresAt: Date): Promise<void>;
  /** Marks the token used iff `tokenHash` is the stored, unused, unexpired token; true for exactly one caller. */
  consume(tokenHash: string, now: Date): Promise<boolean>;
  /** Whether an unused, unexpired token exists. */
  pending(now: Date): Promise<boolean>;
}
