import { checkMasterKeys, deriveKey, derivedKeyring, masterKeyCipher, type Keyring, type TextCipher } from '@gatehouse/signing-keys';

/** HKDF info of one of identity's subkeys. Part of every stored value's key: never change one. */
const info = (purpose: string) => `gatehouse/identity/${purpose}`;

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
    checkMasterKeys(masterKeys, 'IdentityKeys');
    const [first] = masterKeys as [Uint8Array, ...Uint8Array[]];
    this.seedKeyring = derivedKeyring(masterKeys, info('otp-seed'));
    this.smsPepper = deriveKey(first, info('sms-pepper'));
    this.phoneCipher = masterKeyCipher(masterKeys, info('phone'), 'gatehouse/phone');
    this.signingKeyCipher = masterKeyCipher(masterKeys, info('session-signing-key'), 'gatehouse/session-signing-key');
  }
}
