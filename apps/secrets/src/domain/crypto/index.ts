/**
 * Encryption of secret values at rest: envelope encryption (a data key per secret version,
 * wrapped by the master key of the seal), with AAD binding each ciphertext to its row.
 */
export {
  encryptValue,
  decryptValue,
  rewrapDataKey,
  EnvelopeIntegrityError,
  MAX_VALUE_BYTES,
  type SecretBinding,
  type SealedValue,
  type EnvelopeFailure,
} from './envelope.js';
