import { createHash, hkdfSync } from 'node:crypto';
import type { Keyring, SealingKey } from './sealed-box.js';
import { SealedBox } from './sealed-box.js';
import type { TextCipher } from '../ports.js';

/**
 * Identity's keys at rest, all derived (HKDF-SHA256, RFC 5869) from one 256-bit master key
 * that lives in a 0600 file outside the database, never in it: a database thief gets only
 * ciphertexts and keyed hashes. Each purpose gets its own subkey, so no two uses share a key.
 * Several master keys may be given (newest first) so the master key can rotate: new values
 * use the first; older ciphertexts name the key id they were made with.
 */
export class IdentityKeys {
  /** Encrypts OTP seeds. */
  readonly seedKeyring: Keyring;
  /** Keys the SMS code hash (a pepper: a stolen database cannot brute-force 10^6 codes offline). */
  readonly smsPepper: Buffer;
  /** Encrypts phone numbers (bound to the account id). */
  readonly phoneCipher: TextCipher;
  /** Encrypts session signing keys (bound to the key id). */
  readonly signingKeyCipher: TextCipher;

  constructor(masterKeys: readonly Uint8Array[]) {
    if (masterKeys.length === 0) throw new Error('IdentityKeys: at least one master key is required');
    for (const k of masterKeys) if (k.length !== 32) throw new Error('IdentityKeys: a master key is 32 bytes (256 bits)');
    const [first] = masterKeys as [Uint8Array, ...Uint8Array[]];
    this.seedKeyring = derivedKeyring(masterKeys, 'otp-seed');
    this.smsPepper = derive(first, 'sms-pepper');
    this.phoneCipher = textCipher(new SealedBox(derivedKeyring(masterKeys, 'phone'), 'gatehouse/phone'));
    this.signingKeyCipher = textCipher(new SealedBox(derivedKeyring(masterKeys, 'session-signing-key'), 'gatehouse/session-signing-key'));
  }
}

/** The id of a master key: a short hash, safe to store next to ciphertexts. */
export function masterKeyId(master: Uint8Array): string {
  return `mk-${createHash('sha256').update('gatehouse/master-key-id').update(master).digest('hex').slice(0, 16)}`;
}

function derive(master: Uint8Array, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `gatehouse/identity/${purpose}`, 32));
}

function derivedKeyring(masters: readonly Uint8Array[], purpose: string): Keyring {
  const keys: SealingKey[] = masters.map((m) => ({ keyId: masterKeyId(m), key: derive(m, purpose) }));
  const byId = new Map(keys.map((k) => [k.keyId, k.key]));
  const current = keys[0] as SealingKey;
  return { current: () => current, byId: (id) => byId.get(id) };
}

function textCipher(box: SealedBox): TextCipher {
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
