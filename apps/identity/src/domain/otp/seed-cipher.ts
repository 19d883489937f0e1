import type { RandomSource } from '@gatehouse/core';
import { SealedBox, SealedBoxError, type Keyring, type SealingKey } from '@gatehouse/signing-keys';
import { OtpSeed, cryptoRandom } from './otp-seed.js';

/** A seed-encryption key (the generic sealing key). */
export type SeedKey = SealingKey;

/**
 * Port: the seed-encryption keys, held outside the database (REQUIREMENTS "Secrets in a vault",
 * RFC 4226 §7.5). The generic {@link Keyring}, named for its use here.
 */
export type SeedKeyring = Keyring;

/** Which row a seed ciphertext belongs to; authenticated as AAD, so a ciphertext copied to another row does not decrypt. */
export interface SeedBinding {
  credentialId: string;
  accountId: string;
}

/** Why a seed did not decrypt. None of them says anything about the seed. */
export type SeedCipherFailure = SealedBoxError['failure'];

/**
 * A stored seed could not be decrypted: tampered, moved to another row, wrong key, or not a
 * seed ciphertext. Deliberately not a DomainError: it is a server-side integrity failure, so
 * the service kit answers INTERNAL and logs it. The message is fixed and names only the
 * failure kind; neither the ciphertext nor the key nor the underlying crypto error is attached.
 */
export class SeedDecryptionError extends Error {
  constructor(readonly failure: SeedCipherFailure) {
    super(`OTP seed could not be decrypted (${failure})`);
    this.name = 'SeedDecryptionError';
  }
}

/**
 * Seeds at rest (RFC 4226 §7.5, RFC 6238 §5.1): AES-256-GCM with a fresh 96-bit IV per
 * encryption, the key from a {@link SeedKeyring}, and AAD binding version, key id, credential id
 * and account id. Output: `v1:<keyId>:<iv>:<ct>:<tag>` (base64url parts), versioned so the
 * format can change without guessing. Decryption failures throw {@link SeedDecryptionError}.
 * `random` must be a CSPRNG in production (the default): a repeated IV under one key breaks GCM.
 */
export class SeedCipher {
  private readonly box: SealedBox;

  constructor(keyring: SeedKeyring, random: RandomSource = cryptoRandom) {
    this.box = new SealedBox(keyring, 'gatehouse/otp-seed', random);
  }

  /** Encrypts `seed` for the row `binding` names, under the keyring's current key. */
  encrypt(seed: OtpSeed, binding: SeedBinding): string {
    checkBinding(binding);
    return this.box.seal(seed.reveal(), [binding.credentialId, binding.accountId]);
  }

  /** Decrypts a value made by {@link encrypt} for the same binding, or throws SeedDecryptionError. */
  decrypt(encrypted: string, binding: SeedBinding): OtpSeed {
    checkBinding(binding);
    let plain: Buffer;
    try {
      plain = this.box.open(encrypted, [binding.credentialId, binding.accountId]);
    } catch (err) {
      if (err instanceof SealedBoxError) throw new SeedDecryptionError(err.failure);
      throw err;
    }
    try {
      return OtpSeed.fromBytes(plain);
    } catch {
      throw new SeedDecryptionError('malformed');
    } finally {
      plain.fill(0);
    }
  }

  /** True when `encrypted` was made under a key other than the current one (re-encrypt it on the next write). */
  needsRotation(encrypted: string): boolean {
    return this.box.needsRotation(encrypted);
  }
}

function checkBinding(binding: SeedBinding): void {
  for (const f of [binding.credentialId, binding.accountId]) {
    if (typeof f !== 'string' || f.length === 0 || f.length > 512) throw new Error('seed binding needs a non-empty credentialId and accountId');
  }
}
