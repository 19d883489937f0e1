/**
 * The seal of the secrets service (P3; SecretsService SealStatus, Initialize, Unseal, Seal,
 * RotateMasterKey): the master key, the sealed key file that holds it at rest (passphrase via
 * scrypt, or k-of-n Shamir shares over GF(2^8)), and the in-memory seal state machine.
 * Pure domain code; the key file is stored through the {@link KeyFileStore} port.
 */
export { MasterKey, MasterKeyWipedError, MASTER_KEY_BYTES, masterKeyFingerprint } from './master-key.js';
export {
  Share,
  split,
  combine,
  encodeShare,
  decodeShare,
  checkSplitParameters,
  MIN_THRESHOLD,
  MAX_SHARES,
  MAX_SECRET_BYTES,
  SHARE_FORMAT_VERSION,
} from './shamir.js';
export {
  KEY_FILE_FORMAT,
  KEY_FILE_FORMAT_VERSION,
  DEFAULT_SCRYPT_PARAMETERS,
  MIN_SCRYPT_N,
  MAX_SCRYPT_N,
  SCRYPT_SALT_BYTES,
  MIN_PASSPHRASE_CHARACTERS,
  MAX_PASSPHRASE_CHARACTERS,
  MAX_MASTER_KEYS_IN_FILE,
  KeyFileError,
  UnlockedKeyFile,
  checkPassphrasePolicy,
  checkShareFitsFile,
  createKeyFile,
  openWithPassphrase,
  openWithShares,
  unlockWithPassphrase,
  unlockWithShares,
  parseKeyFile,
  type KeyFile,
  type PassphraseKeyFile,
  type SharesKeyFile,
  type KeyFileSpec,
  type KeyFileOptions,
  type KeyFileFailure,
  type CreatedKeyFile,
  type ScryptParameters,
  type WrappedMasterKey,
  type SealMode,
  type StagedKeyFileChange,
} from './key-file.js';
export {
  SealManager,
  DEFAULT_UNSEAL_PROGRESS_IDLE_MS,
  type KeyFileStore,
  type SealStatus,
  type SealManagerOptions,
  type UnsealOptions,
  type UnsealConfirmation,
  type RewrapDataKeys,
  type RotationResult,
} from './seal-manager.js';
