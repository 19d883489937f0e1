import { createHash, hkdfSync } from 'node:crypto';
import { SealedBox, type Keyring, type SealingKey } from './sealed-box.js';

/**
 * Port: encrypts short texts at rest (phone numbers, signing keys) with AAD binding each to its
 * row, so code that stores secrets never handles keys itself.
 */
export interface TextCipher {
  encrypt(plain: string, aad: string): string;
  /** Throws when the ciphertext is not authentic for `aad`. */
  decrypt(ciphertext: string, aad: string): string;
}

/** A master key is 256 bits: every subkey is derived from it, so it must be a full-strength key. */
export const MASTER_KEY_BYTES = 32;

/**
 * Refuses an empty or short master key list before anything is derived from it: a wrong-sized
 * key would silently weaken every subkey. `owner` names the caller in the error.
 */
export function checkMasterKeys(masterKeys: readonly Uint8Array[], owner: string): void {
  if (masterKeys.length === 0) throw new Error(`${owner}: at least one master key is required`);
  for (const k of masterKeys) if (k.length !== MASTER_KEY_BYTES) throw new Error(`${owner}: a master key is 32 bytes (256 bits)`);
}

/**
 * The id of a master key: a short hash, safe to store next to ciphertexts, so that a value
 * names the master key it was made with and the master key can rotate.
 */
export function masterKeyId(master: Uint8Array): string {
  return `mk-${createHash('sha256').update('gatehouse/master-key-id').update(master).digest('hex').slice(0, 16)}`;
}

/**
 * One subkey of a master key (HKDF-SHA256, RFC 5869, empty salt, 32 bytes). Each purpose gets
 * its own `info` (e.g. `gatehouse/identity/phone`), so no two uses share a key.
 */
export function deriveKey(master: Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, 32));
}

/**
 * A {@link Keyring} of the subkeys for `info` of several master keys (newest first): new values
 * are sealed under the first, older ciphertexts still open under the master key they name.
 */
export function derivedKeyring(masterKeys: readonly Uint8Array[], info: string): Keyring {
  checkMasterKeys(masterKeys, 'derivedKeyring');
  const keys: SealingKey[] = masterKeys.map((m) => ({ keyId: masterKeyId(m), key: deriveKey(m, info) }));
  const byId = new Map(keys.map((k) => [k.keyId, k.key]));
  const current = keys[0] as SealingKey;
  return { current: () => current, byId: (id) => byId.get(id) };
}

/**
 * The {@link TextCipher} of one purpose: AES-256-GCM ({@link SealedBox}) under the HKDF subkey
 * `hkdfInfo` of the master keys (newest first), with `aadLabel` as the box's purpose in the AAD.
 * Both strings are part of every stored ciphertext's key or AAD: never change them for a purpose
 * that has data.
 */
export function masterKeyCipher(masterKeys: readonly Uint8Array[], hkdfInfo: string, aadLabel: string): TextCipher {
  const box = new SealedBox(derivedKeyring(masterKeys, hkdfInfo), aadLabel);
  return {
    encrypt: (plain, aad) => box.seal(Buffer.from(plain, 'utf8'), [aad]),
    decrypt: (ciphertext, aad) => {
      const bytes = box.open(ciphertext, [aad]);
      try {
        return bytes.toString('utf8');
      } finally {
        bytes.fill(0);
      }
    },
  };
}
