// @gatehouse/signing-keys: a service's Ed25519 token-signing key ring, shared by its replicas
// through the store, with private keys encrypted at rest under a master key from a 0600 file.
export {
  SigningKeyRing,
  DEFAULT_KEY_ROTATION,
  type KeyRotationPolicy,
  type PublishedKey,
  type SigningKeyRingOptions,
} from './signing-key-ring.js';
export type { SigningKeyRecord, SigningKeyRepository } from './signing-key.js';
export { SqliteSigningKeyRepository, signingKeySqliteMigrations } from './sqlite-signing-key-repository.js';
export { MongoSigningKeyRepository, signingKeyMongoIndexes } from './mongo-signing-key-repository.js';
export { SealedBox, SealedBoxError, type SealedBoxFailure, type Keyring, type SealingKey } from './sealed-box.js';
export {
  masterKeyCipher,
  masterKeyId,
  deriveKey,
  derivedKeyring,
  checkMasterKeys,
  type TextCipher,
} from './master-key.js';
export { loadOrCreateMasterKey } from './master-key-file.js';
