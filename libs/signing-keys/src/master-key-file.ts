import { randomBytes } from 'node:crypto';
import { loadOrCreateSecretFile } from '@gatehouse/pki';
import { ConfigError } from '@gatehouse/service-kit';
import { MASTER_KEY_BYTES } from './master-key.js';

const HEX_KEY = new RegExp(`^[0-9a-f]{${MASTER_KEY_BYTES * 2}}$`);

/**
 * A service's master key from its 0600 file outside the database, generated (hex, 256 bits) on
 * first start, so that every replica given the same file decrypts the same data while a database
 * thief gets only ciphertexts. A file that does not hold 64 hex characters is a ConfigError
 * naming `variableName` (the setting that points at the file).
 */
export function loadOrCreateMasterKey(file: string, variableName: string): Buffer {
  const hex = loadOrCreateSecretFile(file, () => `${randomBytes(MASTER_KEY_BYTES).toString('hex')}\n`).trim();
  if (!HEX_KEY.test(hex)) throw new ConfigError([`${variableName}: must hold 64 hex characters (a 256-bit key)`]);
  return Buffer.from(hex, 'hex');
}
